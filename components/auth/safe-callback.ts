/** Only same-site paths: an open redirect after sign-in is a phishing tool. */
export function safeCallback(url: string | undefined): string {
  if (!url || !url.startsWith("/") || url.startsWith("//") || url.startsWith("/\\")) return "/";
  return url;
}
