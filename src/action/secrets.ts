/**
 * Every secret the run holds. Each is masked in the runner's log the moment it is learnt, and cut
 * out of any text the action passes on from a server, which may echo what it was sent.
 */

/**
 * The shortest value sent to the runner as a mask: the runner replaces every occurrence in the
 * log, so a one-character secret would star out that letter everywhere and make the log useless.
 */
export const MIN_MASK_LENGTH = 4;

export class Secrets {
  /** Longest first, so a secret that contains another is cut out whole. */
  private readonly values: string[] = [];
  /** Too short to mask; cut out of our own messages only where it stands alone. */
  private readonly short: RegExp[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly mask: (secret: string) => void) {}

  /**
   * Learns a secret and the forms it takes on the wire: URL-encoded (in a query or a form body)
   * and base64 (in a Basic header).
   */
  add(secret: string): void {
    if (secret === '') return;
    for (const form of wireForms(secret)) this.learn(form);
  }

  /** The text with every secret replaced by ***; done before any cut or reflow of the text. */
  redact(text: string): string {
    const long = this.values.reduce((t, secret) => t.split(secret).join('***'), text);
    return this.short.reduce((t, pattern) => t.replace(pattern, '***'), long);
  }

  /**
   * The head of a longer text, redacted. Unless it is the whole text, its last characters are
   * dropped too: they could be the start of a secret that the cut split.
   */
  redactHead(head: string, whole: boolean): string {
    const redacted = this.redact(head);
    const longest = this.values[0]?.length ?? 0;
    return whole || longest === 0
      ? redacted
      : redacted.slice(0, Math.max(0, redacted.length - longest + 1));
  }

  private learn(value: string): void {
    if (this.seen.has(value)) return;
    this.seen.add(value);
    if (value.length < MIN_MASK_LENGTH) {
      const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      this.short.push(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'g'));
      return;
    }
    this.mask(value);
    this.values.push(value);
    this.values.sort((a, b) => b.length - a.length);
  }
}

/** The secret as given, URL-encoded (both ways a space goes), and base64. */
export function wireForms(secret: string): string[] {
  const forms = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    Buffer.from(secret, 'utf8').toString('base64')
  ];
  return [...new Set(forms)];
}

/** Why a credential cannot be sent in an HTTP header, or undefined when it can. */
export function unsendable(credential: string): string | undefined {
  if (/\p{Cc}/u.test(credential)) {
    return 'contains a control character (a line break or tab, perhaps from copying it)';
  }
  if (/[^\x20-\x7e]/.test(credential)) {
    return 'contains a character outside printable ASCII, which an HTTP header cannot carry';
  }
  return undefined;
}
