// What JavaScript readers make of one gateway document, printed as JSON for the Python tests.
//   node read.mjs rss-parser|feed-extractor|togeojson FILE
import { readFileSync } from "node:fs";

const [reader, file] = process.argv.slice(2);
const text = readFileSync(file, "utf8");

async function rssParser() {
  const { default: Parser } = await import("rss-parser");
  const parser = new Parser({
    customFields: {
      item: [["media:content", "mediaContent"], ["media:thumbnail", "mediaThumbnail"],
             ["dc:date.Taken", "dateTaken"], ["flickr:date_taken", "flickrDateTaken"]],
    },
  });
  const feed = await parser.parseString(text);
  return {
    title: feed.title,
    items: feed.items.map((item) => ({
      title: item.title,
      link: item.link,
      categories: (item.categories || []).map((c) => (typeof c === "string" ? c : c._ ?? c.$?.term)),
      enclosure: item.enclosure ? item.enclosure.url : null,
      mediaContent: item.mediaContent?.$?.url ?? null,
      mediaThumbnail: item.mediaThumbnail?.$?.url ?? null,
      dateTaken: item.dateTaken ?? item.flickrDateTaken ?? null,
    })),
  };
}

async function feedExtractor() {
  const { extractFromXml } = await import("@extractus/feed-extractor");
  const feed = extractFromXml(text, { normalization: true, descriptionMaxLen: 0 });
  return { title: feed.title, items: feed.entries.map((e) => ({ title: e.title, link: e.link })) };
}

async function togeojson() {
  const { DOMParser } = await import("@xmldom/xmldom");
  const { kml } = await import("@tmcw/togeojson");
  return kml(new DOMParser().parseFromString(text, "text/xml"));
}

const readers = { "rss-parser": rssParser, "feed-extractor": feedExtractor, togeojson };
process.stdout.write(JSON.stringify(await readers[reader]()));
