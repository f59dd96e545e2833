/** A city block grid around a start point, in metres east (x) and north (y) of it. */
import { pickOne, type Rng } from "./rng.ts";

export interface LatLng {
  lat: number;
  lng: number;
}

export interface StreetGrid {
  origin: LatLng;
  /** Length of one block, metres (a US city block is 80–120 m). */
  blockM: number;
  /** Blocks along each side; the grid spans −blocks/2 … +blocks/2 around the origin. */
  blocks: number;
}

/** Downtown Austin: the flush bench's start point too. */
export const DEFAULT_GRID: StreetGrid = { origin: { lat: 30.2672, lng: -97.7431 }, blockM: 110, blocks: 12 };

const M_PER_DEG_LAT = 111_320;

export function toLatLng(origin: LatLng, x: number, y: number): LatLng {
  return {
    lat: origin.lat + y / M_PER_DEG_LAT,
    lng: origin.lng + x / (M_PER_DEG_LAT * Math.cos((origin.lat * Math.PI) / 180)),
  };
}

/** An intersection, as block indices. */
export interface Node {
  i: number;
  j: number;
}

const AVENUES = ["Oak", "Pine", "Maple", "Cedar", "Elm", "Willow", "Birch", "Walnut", "Ash", "Magnolia", "Pecan", "Cypress", "Juniper", "Laurel", "Sycamore", "Hickory"];
const ordinal = (n: number) => `${n}${n % 10 === 1 && n % 100 !== 11 ? "st" : n % 10 === 2 && n % 100 !== 12 ? "nd" : n % 10 === 3 && n % 100 !== 13 ? "rd" : "th"}`;

export function nodeXY(grid: StreetGrid, n: Node): { x: number; y: number } {
  const half = grid.blocks / 2;
  return { x: (n.i - half) * grid.blockM, y: (n.j - half) * grid.blockM };
}

export function randomNode(grid: StreetGrid, rng: Rng): Node {
  return { i: Math.floor(rng() * (grid.blocks + 1)), j: Math.floor(rng() * (grid.blocks + 1)) };
}

/** The next intersection: any neighbour inside the grid, but not straight back unless it is a dead end. */
export function nextNode(grid: StreetGrid, at: Node, cameFrom: Node | null, rng: Rng): Node {
  const all = [
    { i: at.i + 1, j: at.j },
    { i: at.i - 1, j: at.j },
    { i: at.i, j: at.j + 1 },
    { i: at.i, j: at.j - 1 },
  ].filter((n) => n.i >= 0 && n.j >= 0 && n.i <= grid.blocks && n.j <= grid.blocks);
  const forward = all.filter((n) => !cameFrom || n.i !== cameFrom.i || n.j !== cameFrom.j);
  return pickOne(rng, forward.length > 0 ? forward : all);
}

/** The street a segment runs along: east–west streets are numbered, north–south ones are avenues. */
export function streetName(from: Node, to: Node): string {
  return from.j === to.j ? `${ordinal(from.j + 1)} St` : `${AVENUES[from.i % AVENUES.length]} Ave`;
}

/** A house number from the position along the street: 100 per block, even on one side, odd on the other. */
export function houseNumber(along: number, blockM: number, side: 1 | -1): number {
  const n = Math.max(1, Math.round((along / blockM) * 100));
  return n - (n % 2) + (side > 0 ? 0 : 1) + 100;
}
