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
  /** Every value in one pattern, longest first, so that a text is read once however many. */
  private pattern: RegExp | undefined;

  constructor(private readonly mask: (secret: string) => void) {}

  /**
   * Learns a secret and, unless the action only keeps it (a private key that signs, a
   * passphrase), every form it can take on the wire (wireForms). A form too short to mask
   * carries too little of the secret to matter, and is left out.
   */
  add(secret: string, use: 'sent' | 'kept' = 'sent'): void {
    if (secret === '') return;
    this.learn(secret);
    if (use === 'kept') return;
    for (const form of wireForms(secret)) {
      if (form.length >= MIN_MASK_LENGTH) this.learn(form);
    }
  }

  /** The text with every secret replaced by ***; done before any cut or reflow of the text. */
  redact(text: string): string {
    if (this.values.length > 0) {
      this.pattern ??= new RegExp(this.values.map(escapeRegExp).join('|'), 'g');
    }
    const long = this.pattern ? text.replace(this.pattern, '***') : text;
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
      this.short.push(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(value)}(?![A-Za-z0-9])`, 'g'));
      return;
    }
    this.mask(value);
    this.values.push(value);
    this.values.sort((a, b) => b.length - a.length);
    this.pattern = undefined;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The secret as given and in each encoding a request carries it in, or a server echoing a
 * request could: JSON-escaped (the token exchange's body), URL-encoded (both ways a space
 * goes), and base64 and base64url of each of those, padded and unpadded. A URL-encoded form is
 * also taken with lower-case hex digits (RFC 3986 §2.1 makes %2b the same as %2B) and encoded
 * a second time (%252B, as a gateway that encodes an encoded value echoes it), in both cases;
 * their base64 is not taken: no request carries them, only an echo. Base64 is taken at the
 * three byte alignments too, for a secret inside a longer encoded text (`id:secret` in a Basic
 * header, `{"apikey":"…"}` encoded whole): the characters that the secret's bytes alone decide,
 * and those to the end, for a secret that ends the text. The runner masks the same alignments
 * in the log (actions/runner ValueEncoders.Base64StringEscapeShift1 and Shift2); these are also
 * cut out of the summary and the report, which the runner does not mask.
 */
export function wireForms(secret: string): string[] {
  const texts = [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2)
  ];
  const forms = [...texts];
  for (const text of new Set(texts)) forms.push(...base64Forms(Buffer.from(text, 'utf8')));
  for (const encoded of texts.slice(2)) forms.push(...percentSpellings(encoded));
  return [...new Set(forms)];
}

/** The other spellings of a URL-encoded text: see wireForms. */
function percentSpellings(encoded: string): string[] {
  const lower = (text: string) => text.replace(/%[0-9A-F]{2}/g, (s) => s.toLowerCase());
  return [lower(encoded), encodeURIComponent(encoded), encodeURIComponent(lower(encoded))];
}

/** The base64 and base64url forms of `bytes` at each alignment: see wireForms. */
function base64Forms(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    // Character k holds bits 6k to 6k+5; the secret's bits run from 8*shift to 8*(shift+length).
    const first = Math.ceil((shift * 8) / 6);
    const end = Math.floor(((shift + bytes.length) * 8) / 6);
    const tail = encoded.slice(first);
    for (const form of [encoded.slice(first, end), tail, tail.replace(/=+$/, '')]) {
      forms.push(form, form.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return forms;
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
