/**
 * The browser console as the meta Lambda serves it: the page at `/`, `/console` and every deep
 * link, hashed assets with their content types and caching, strict security headers, 404 for
 * unknown assets, no token for the static files while the data routes still need one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../functions/api/meta';
import { loadConsoleAssets } from '../../console/assets';
import { consoleResponse, isConsolePath, type ConsoleAssets } from '../../shared/http/console-static';
import { Router } from '../../shared/http/router';
import { client, useTestEnvironment } from './api-harness';

const anon = client(handler);
let assets: ConsoleAssets;

beforeAll(async () => {
  useTestEnvironment();
  assets = await loadConsoleAssets();
}, 60_000);

const assetNamed = (ext: string): string => Object.keys(assets.files).find((n) => n.endsWith(ext))!;

describe('console build', () => {
  it('has one hashed script and one stylesheet, both referenced by the page', () => {
    const js = assetNamed('.js');
    const css = assetNamed('.css');
    expect(js).toMatch(/^app-[A-Z0-9]+\.js$/);
    expect(css).toMatch(/^app-[A-Z0-9]+\.css$/);
    expect(assets.index.body).toContain(`src="/console/assets/${js}"`);
    expect(assets.index.body).toContain(`href="/console/assets/${css}"`);
    expect(assets.files[js].body).toContain('Add Source Storage');
  });

  it('loads nothing from another origin (no CDN, no external fonts)', () => {
    expect(assets.index.body).not.toMatch(/(https?:)?\/\/[a-z]/i);
    expect(assets.files[assetNamed('.css')].body).not.toMatch(/url\(|@import|https?:/i);
  });

  it('is built once per process', async () => {
    expect(await loadConsoleAssets()).toBe(assets);
  });
});

describe('console serving', () => {
  it('answers the page at /, /console and deep links without a token, with strict headers', async () => {
    for (const path of ['/', '/console', '/console/', '/console/projects/3/storage', '/console/projects/3/tasks/17']) {
      const r = await anon('GET', path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(r.headers['content-security-policy']).toMatch(/^default-src 'self';/);
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['content-security-policy']).not.toMatch(/unsafe-(inline|eval)/);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.text).toBe(assets.index.body);
    }
  });

  it('serves hashed assets with their content type, immutable caching and ETag revalidation', async () => {
    const js = await anon('GET', `/console/assets/${assetNamed('.js')}`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['x-content-type-options']).toBe('nosniff');
    const css = await anon('GET', `/console/assets/${assetNamed('.css')}`);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const again = await anon('GET', `/console/assets/${assetNamed('.js')}`, undefined, { 'if-none-match': js.headers.etag });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const head = await anon('HEAD', '/console/projects');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });

  it('answers 404 JSON for an unknown asset, never the page', async () => {
    for (const path of ['/console/assets/app-OLDHASH.js', '/console/assets/', '/console/assets/a/b.js']) {
      const r = await anon('GET', path);
      expect(r.status, path).toBe(404);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.json).toEqual({ status_code: 404, detail: 'Not found.' });
    }
  });

  it('keeps every data route behind the token', async () => {
    for (const path of ['/api/openapi.json', '/api/projects', '/consoles', '/api/console']) {
      expect((await anon('GET', path)).status, path).toBe(401);
    }
    expect(isConsolePath('/consoleX')).toBe(false);
  });

  it('refuses writes to console paths', async () => {
    expect((await anon('POST', '/console/projects')).status).toBe(405);
  });
});

describe('router rest parameters', () => {
  it('`{name+}` takes the rest of the path, slashes included; plain parameters stay one segment', () => {
    const r = new Router<null>().get('/a/{rest+}', async () => ({ statusCode: 200, headers: {} })).get('/b/{id}', async () => ({ statusCode: 200, headers: {} }));
    expect(r.match('GET', '/a/x/y/z').params).toEqual({ rest: 'x/y/z' });
    expect(r.match('GET', '/a/x/y/').params).toEqual({ rest: 'x/y' });
    expect(() => r.match('GET', '/b/1/2')).toThrow();
  });

  it('an If-None-Match list with a weak validator matches', () => {
    const res = consoleResponse(assets, '/console', `"other", W/${assets.index.etag}`);
    expect(res.statusCode).toBe(304);
  });
});
