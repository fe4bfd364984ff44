// A map's tile layer options from its element's data attributes (web/map_tiles.py): with a
// local archive, its zoom range and area, so Leaflet asks only for tiles the archive can have
// (none below its lowest zoom or outside its area) and enlarges its deepest ones beyond that.

export function tileOptions(dataset, extra = {}) {
  const options = { attribution: dataset.attribution || "", maxZoom: 19, ...extra };
  const minZoom = Number.parseInt(dataset.tilesMinZoom || "", 10);
  if (Number.isFinite(minZoom) && minZoom > 0) options.minZoom = minZoom;
  const maxNative = Number.parseInt(dataset.tilesMaxZoom || "", 10);
  if (Number.isFinite(maxNative) && maxNative < 19) options.maxNativeZoom = maxNative;
  const box = (dataset.tilesBounds || "").split(",").map(Number);
  if (box.length === 4 && box.every(Number.isFinite)) {
    options.bounds = [[box[1], box[0]], [box[3], box[2]]]; // west,south,east,north
  }
  return options;
}
