/**
 * A client's file name, kept for display only and never used as a path: Unicode kept
 * (NFC, so "è" typed two ways is one name), path separators, control characters (C0, DEL,
 * C1) and bidirectional overrides (which make "gpj.exe" read as "exe.jpg") replaced, at
 * most 200 characters counted by code point so no character is cut in half.
 */
export function displayFilename(name: string) {
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = name.normalize("NFC").replace(/[\u0000-\u001f\u007f-\u009f/\\\u202a-\u202e\u2066-\u2069]/g, "_");
  // Lone surrogates (not valid UTF-8) cannot be stored as text.
  const chars = Array.from(clean.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
  return chars.slice(-200).join("") || "upload";
}
