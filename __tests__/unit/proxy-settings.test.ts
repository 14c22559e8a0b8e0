import { describe, expect, it } from '@jest/globals';
import { proxyCredentials, proxySettings } from '../../src/http/proxy-settings.js';
import { Secrets } from '../../src/action/secrets.js';

/** The settings as the variable each proxy came from and its href, for comparing. */
function read(env: Record<string, string>) {
  const { http, https, noProxy } = proxySettings(env);
  const named = (p: typeof http) => p && `${p.variable} ${p.url.href}`;
  return { http: named(http), https: named(https), noProxy };
}

describe('proxySettings', () => {
  it('reads the variables undici reads: lower case first, even when empty; https falls back to http', () => {
    expect(
      read({ HTTPS_PROXY: 'http://s:1', HTTP_PROXY: 'http://p:2', https_proxy: 'http://l:3' })
    ).toEqual({
      http: 'HTTP_PROXY http://p:2/',
      https: 'https_proxy http://l:3/',
      noProxy: ''
    });
    expect(read({ http_proxy: '', HTTP_PROXY: 'http://p:2' })).toEqual({
      http: undefined,
      https: undefined,
      noProxy: ''
    });
    expect(read({ HTTP_PROXY: 'http://p:2', HTTPS_PROXY: '' }).https).toBe(
      'HTTP_PROXY http://p:2/'
    );
    expect(read({ no_proxy: '', NO_PROXY: 'a.example' }).noProxy).toBe('');
    expect(read({ NO_PROXY: 'a.example' }).noProxy).toBe('a.example');
  });

  it('reads a proxy given as host:port as an http:// one, as curl does', () => {
    expect(read({ HTTPS_PROXY: 'proxy.corp:3128' }).https).toBe(
      'HTTPS_PROXY http://proxy.corp:3128/'
    );
    expect(read({ HTTP_PROXY: '10.0.0.5:3128' }).http).toBe('HTTP_PROXY http://10.0.0.5:3128/');
  });

  it.each([
    [
      'HTTPS_PROXY',
      'socks5://ops:hunter2@127.0.0.1:1080',
      /names a socks5:\/\/ proxy, which is not supported/
    ],
    ['http_proxy', 'ftp://proxy.corp', /names a ftp:\/\/ proxy/],
    ['HTTP_PROXY', 'http://ops:hunter2@[not-an-address', /^HTTP_PROXY is not a proxy URL/]
  ])('refuses %s=%s, naming the variable and not its value', (name, value, message) => {
    expect(() => proxySettings({ [name]: value })).toThrow(message);
    try {
      proxySettings({ [name]: value });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('proxyCredentials', () => {
  it('names the password and user:password of every proxy variable, as given and decoded', () => {
    expect(
      proxyCredentials({
        HTTPS_PROXY: 'http://ops:p%40ss-word@proxy.corp:3128',
        http_proxy: 'proxy.corp:3128',
        HTTP_PROXY: 'ops2:second-pw@10.0.0.5:3128'
      }).sort()
    ).toEqual(
      [
        'p%40ss-word',
        'p@ss-word',
        'ops:p@ss-word',
        'ops:p%40ss-word',
        'second-pw',
        'ops2:second-pw'
      ].sort()
    );
  });

  it('names a user given alone, a token in the user place, and nothing for a proxy without credentials', () => {
    expect(proxyCredentials({ https_proxy: 'http://tok-123456@proxy:1' })).toEqual(['tok-123456']);
    expect(proxyCredentials({ HTTPS_PROXY: 'http://proxy.corp:3128', NO_PROXY: 'x' })).toEqual([]);
  });

  it('reads a value proxySettings refuses without throwing', () => {
    expect(() =>
      proxyCredentials({ HTTP_PROXY: 'http://ops:hunter2@[not-an-address' })
    ).not.toThrow();
    expect(proxyCredentials({ HTTPS_PROXY: 'socks5://ops:hunter2@127.0.0.1:1080' })).toContain(
      'hunter2'
    );
  });

  it('learnt as secrets, they cut the Basic value a proxy sends back out of its page', () => {
    const secrets = new Secrets(() => undefined);
    for (const c of proxyCredentials({ HTTP_PROXY: 'http://ops:pr0xy-pa55@proxy:3128' })) {
      secrets.add(c);
    }
    const basic = Buffer.from('ops:pr0xy-pa55').toString('base64');
    expect(secrets.redact(`Proxy-Authorization: Basic ${basic}`)).toBe(
      'Proxy-Authorization: Basic ***'
    );
  });
});
