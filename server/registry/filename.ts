/** A client's file name, kept for display only and never used as a path: no separators or control characters. */
export function displayFilename(name: string) {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  return name.replace(/[\u0000-\u001f\u007f/\\]/g, "_").slice(-200) || "upload";
}
