/**
 * Keeps credentials out of messages: URLs lose their user info and query before they reach an
 * error string or a log line. {@link errorText} is the one way to turn a thrown value into text.
 */

/** The URL without user info or query, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

/** `text` with every URL in it replaced by its {@link safeUrl} form, cut to its first line. */
export function redactText(text: string): string {
  return text.split("\n")[0].replace(/[a-z][a-z0-9+.-]*:\/\/[^\s)"'<>]+/gi, (m) => safeUrl(m));
}

/** One line of text for any thrown value (its message, else its name), credentials removed. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message || e.name : String(e);
  return redactText(msg);
}
