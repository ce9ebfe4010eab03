/**
 * Text a client says about itself — its User-Agent header, the device name it gives at sign-in —
 * is shown later in a user's history and session list, and whoever sends it chooses it: a failed
 * login puts a stranger's User-Agent into the victim's history. So it is kept on one line and short
 * before it is stored or logged: control characters (C0, DEL, C1), line and paragraph separators,
 * bidirectional overrides and lone surrogates become U+FFFD, which shows that something was there
 * without letting it move the cursor, reorder the line or paint a terminal; and a longer text is
 * cut, with "…" in its last place.
 */
const UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]|\p{Surrogate}/gu;
/** The same test without the global flag's state: for the fast path. */
const HAS_UNPRINTABLE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]|\p{Surrogate}/u;
/** The longest device name register, login and loginWithPasskey accept. */
export const MAX_DEVICE_LENGTH = 100;

const REPLACEMENT = "\uFFFD";
const CUT = "…";

/** `text` bounded to `maxLength` characters (code points) and cleaned as above; null when nothing is left. */
export function clientReported(text: string | null | undefined, maxLength: number): string | null {
  if (text === null || text === undefined) return null;
  // Every request's User-Agent comes through here: a short, clean text (the usual one) is kept as
  // it is, without the per-code-point work below (no more code points than UTF-16 units).
  if (text.length <= maxLength && !HAS_UNPRINTABLE.test(text)) return text.trim() || null;
  // Enough of the head for maxLength code points whatever they are; the rest is never looked at.
  const head = text.slice(0, 2 * maxLength + 2);
  const characters = Array.from(head.replace(UNPRINTABLE, REPLACEMENT).trim());
  const cut = characters.length > maxLength || head.length < text.length;
  const bounded = cut ? characters.slice(0, maxLength - 1).join("").trimEnd() + CUT : characters.join("");
  return bounded === "" ? null : bounded;
}
