/** Vite's `?url` imports (the MapLibre worker): the emitted asset's URL. */
declare module "*?url" {
  const url: string;
  export default url;
}
