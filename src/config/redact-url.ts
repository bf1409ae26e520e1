/** Masking of credentials in URLs, so no message, log line or audit event shows a password. */

/**
 * Replaces the user name and password of a URL with "***", such as mqtts://***@broker:8883.
 * Text that does not parse as a URL is masked the same way wherever it has "://user@" or
 * "://user:password@", so a rejected URL can still be shown.
 */
export function redactUrl(url: string): string {
  if (URL.canParse(url)) {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    return url.replace(/^([^:]+:\/\/)[^/?#]*@/, "$1***@");
  }
  return url.replace(/(:\/\/)[^/?#\s"]*@/g, "$1***@");
}
