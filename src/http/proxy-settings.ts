/**
 * The proxy variables of the runner's environment, read as undici's EnvHttpProxyAgent reads
 * them and checked before any request. undici chooses the proxy for each URL (NO_PROXY
 * included); this module only names the proxies, so that their failures can be told apart, and
 * refuses a setting that could never work, naming the variable without echoing its value: a
 * proxy URL may hold credentials.
 */

type Env = Readonly<Record<string, string | undefined>>;

export interface Proxy {
  /** The variable it was read from, as the environment spells it. */
  readonly variable: string;
  /** Its URL, credentials included: messages name only its host (`url.host`). */
  readonly url: URL;
}

export interface ProxySettings {
  /** For http:// targets: the proxy, or undefined for none. */
  readonly http: Proxy | undefined;
  /** For https:// targets: their own proxy, else the http one (as undici falls back). */
  readonly https: Proxy | undefined;
  /** NO_PROXY (or no_proxy) as set, '' when unset. */
  readonly noProxy: string;
}

/**
 * The variable undici reads: the lower-case one when it is set at all (even empty, which then
 * means none), else the upper-case one.
 */
function variable(env: Env, lower: string, upper: string): string | undefined {
  const name = env[lower] !== undefined ? lower : upper;
  return env[name] ? name : undefined;
}

/** The proxies the environment names, refused before any request when one could never work. */
export function proxySettings(env: Env): ProxySettings {
  const http = proxyIn(env, variable(env, 'http_proxy', 'HTTP_PROXY'));
  const https = proxyIn(env, variable(env, 'https_proxy', 'HTTPS_PROXY')) ?? http;
  return { http, https, noProxy: env.no_proxy ?? env.NO_PROXY ?? '' };
}

function proxyIn(env: Env, name: string | undefined): Proxy | undefined {
  if (name === undefined) return undefined;
  const value = withScheme(env[name]!);
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !url.hostname) {
    throw new Error(
      `${name} is not a proxy URL: set it to http://host:port (or https://host:port), or unset it`
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(
      `${name} names a ${url.protocol.slice(0, -1)}:// proxy, which is not supported: this action speaks HTTP to its proxy. Set ${name} to the http:// (or https://) address of a proxy, or unset it`
    );
  }
  return { variable: name, url };
}

/**
 * The credentials in every proxy variable, for masking before anything is sent or logged: the
 * password, and `user:password`, whose base64 is the Basic value sent in Proxy-Authorization
 * (the caller masks the wire forms of each), as given and with their %-escapes undone. A user name
 * with no password is a token in the user's place, and masked. Every spelling of the four
 * variables is read, whichever one a client uses, and none refuses: this must not throw before
 * proxySettings can say what is wrong.
 */
export function proxyCredentials(env: Env): string[] {
  const found = new Set<string>();
  for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY']) {
    const value = env[name] ? withScheme(env[name]) : '';
    if (!URL.canParse(value)) continue;
    const { username, password } = new URL(value);
    const user = decoded(username);
    if (password === '') {
      if (user !== '') found.add(user).add(username);
      continue;
    }
    // Decoded as undici sends it, and as given, as a client that does not decode sends it.
    found.add(password).add(decoded(password));
    found.add(`${user}:${decoded(password)}`).add(`${username}:${password}`);
  }
  return [...found].filter((credential) => credential !== '');
}

/** A URL component with its %-escapes undone, as undici undoes them; itself when it cannot be. */
function decoded(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** A proxy given as host:port, as curl takes it, is an http:// one; undici would refuse it. */
function withScheme(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
}
