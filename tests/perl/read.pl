#!/usr/bin/perl
# What Perl's feed readers make of one gateway feed, printed as JSON for the Python tests.
#   perl read.pl XML::Feed|XML::FeedPP FILE
use strict;
use warnings;
use JSON::PP;

my ($reader, $file) = @ARGV;
my @items;
if ($reader eq 'XML::Feed') {
    require XML::Feed;
    my $feed = XML::Feed->parse($file) or die XML::Feed->errstr;
    for my $entry ($feed->entries) {
        my @enclosures = map { $_->url } $entry->enclosure;
        push @items, { title => $entry->title, link => $entry->link, categories => [$entry->category],
                       enclosures => [grep { defined } @enclosures] };
    }
    print encode_json({ title => $feed->title, format => $feed->format, items => \@items });
} elsif ($reader eq 'XML::FeedPP') {
    require XML::FeedPP;
    my $feed = XML::FeedPP->new($file, -type => 'file');
    for my $item ($feed->get_item) {
        my $category = $item->category;
        my @categories = ref $category eq 'ARRAY' ? @$category : grep { defined } ($category);
        my $content = $item->get('media:content@url');
        my $thumbnail = $item->get('media:thumbnail@url');
        push @items, { title => $item->title, link => $item->link, categories => \@categories,
                       media_content => $content, media_thumbnail => $thumbnail };
    }
    print encode_json({ title => $feed->title, items => \@items });
} else {
    die "unknown reader $reader\n";
}
