import { describe, expect, it } from '@jest/globals';
import { bypassesProxy, proxyFor } from '../../src/http/transport.js';

const url = (u: string) => new URL(u);

describe('proxyFor', () => {
  it('takes HTTPS_PROXY for https and HTTP_PROXY for http, lower case first', () => {
    const env = {
      HTTPS_PROXY: 'http://s:1',
      HTTP_PROXY: 'http://p:2',
      https_proxy: 'http://low:3'
    };
    expect(proxyFor(url('https://t.example'), env)?.host).toBe('low:3');
    expect(proxyFor(url('http://t.example'), env)?.host).toBe('p:2');
  });
  it('falls back to HTTP_PROXY for https, and reads a proxy given without a scheme', () => {
    expect(proxyFor(url('https://t.example'), { HTTP_PROXY: 'proxy.corp:3128' })?.href).toBe(
      'http://proxy.corp:3128/'
    );
  });
  it('uses none when NO_PROXY names the host, or none is set', () => {
    expect(proxyFor(url('https://t.example'), {})).toBeUndefined();
    expect(
      proxyFor(url('https://t.example'), { HTTPS_PROXY: 'http://s:1', NO_PROXY: 't.example' })
    ).toBeUndefined();
  });
});

describe('bypassesProxy', () => {
  it.each([
    ['*', 'https://any.example', true],
    ['example.com', 'https://example.com', true],
    ['example.com', 'https://api.example.com', true],
    ['.example.com', 'https://api.example.com', true],
    ['*.example.com', 'https://api.example.com', true],
    ['example.com', 'https://notexample.com', false],
    ['example.com:8443', 'https://example.com:8443', true],
    ['example.com:8443', 'https://example.com', false],
    ['127.0.0.1', 'http://127.0.0.1:9000', true],
    ['[::1]', 'http://[::1]:9000', true],
    ['a.example, b.example', 'https://b.example', true],
    ['', 'https://example.com', false]
  ])('NO_PROXY=%j for %s: %s', (noProxy, target, expected) => {
    expect(bypassesProxy(url(target), noProxy)).toBe(expected);
  });
});
