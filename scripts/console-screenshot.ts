/**
 * Renders docs/console.png: the Cloud Storage settings page of a demo project at 1280×800, from
 * a throw-away `npm start` runtime (in-memory DynamoDB Local, free ports) with a synced local-files
 * source and a local-files target, in headless Chromium (Debian's; CHROMIUM_PATH overrides).
 *
 *   npx tsx scripts/console-screenshot.ts [output.png]
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../local/runtime';
import { launchChromium } from '../test/browser/chromium';
import { signIn } from '../test/browser/console-nav';
import { png } from '../test/browser/png';
import { runtimeApi } from '../test/integration/runtime-client';

const out = process.argv[2] ?? 'docs/console.png';

async function waitForStatus(api: ReturnType<typeof runtimeApi>, path: string): Promise<void> {
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    const s = (await api('GET', path)).json;
    if (['completed', 'completed_with_errors', 'failed'].includes(s.status)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${path} did not finish syncing in 120 s`);
}

async function main(): Promise<void> {
  // A fixed, readable path: it shows in the storages' Location column.
  const dir = join(tmpdir(), 'labelsync-console-screenshot');
  rmSync(dir, { recursive: true, force: true });
  const root = join(dir, 'label-studio-data');
  mkdirSync(join(root, 'set1'), { recursive: true });
  mkdirSync(join(root, 'annotations'), { recursive: true });
  for (let i = 0; i < 12; i++) writeFileSync(join(root, 'set1', `img-${String(i).padStart(3, '0')}.png`), png(64, 48, [30 + i * 15, 90, 160]));
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  Object.assign(process.env, { LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED: 'true', LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT: root, LABELSYNC_LOCAL_FILES_STORAGE_ENABLED: 'true' });
  const runtime = await startRuntime({ port: 0, dataDir: join(dir, 'data'), inMemory: true, preloadStateMachine: true, log: () => {} });
  const browser = await launchChromium();
  try {
    const api = runtimeApi(() => runtime);
    const project = await api('POST', '/api/projects', { title: 'Street signs', label_config: '<View><Image name="image" value="$image"/><Choices name="choice" toName="image"><Choice value="stop"/><Choice value="yield"/></Choices></View>' });
    const pid = project.json.id as number;
    const source = await api('POST', '/api/storages/localfiles', { project: pid, title: 'Camera set 1', path: join(root, 'set1'), regex_filter: '.*\\.png', use_blob_urls: true });
    await api('POST', `/api/storages/localfiles/${source.json.id}/sync`);
    await waitForStatus(api, `/api/storages/localfiles/${source.json.id}`);
    const tasks = (await api('GET', `/api/tasks?project=${pid}&resolve_uri=false`)).json.tasks as { id: number }[];
    for (const t of tasks.slice(0, 3)) {
      await api('POST', `/api/tasks/${t.id}/annotations`, { result: [{ from_name: 'choice', to_name: 'image', type: 'choices', value: { choices: ['stop'] } }] });
    }
    const target = await api('POST', '/api/storages/export/localfiles', { project: pid, title: 'Annotations', path: join(root, 'annotations') });
    await waitForStatus(api, `/api/storages/export/localfiles/${target.json.id}`);

    const context = await browser.newContext({ baseURL: runtime.url, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await signIn(page, runtime.token!);
    await page.goto(`/console/projects/${pid}/storage`);
    await page.getByText('Camera set 1').first().waitFor();
    await page.getByText('Annotations').first().waitFor();
    await page.screenshot({ path: out });
    console.error(`wrote ${out}`);
  } finally {
    await browser.close();
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
