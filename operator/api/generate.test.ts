import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { zkEnsembleCrd } from './crd.ts';
import { CRD_PATH, generatedFiles, REPO_ROOT } from './generate.ts';

test('the committed CRD and types are what operator/api/generate.ts writes now', () => {
  for (const [path, fresh] of Object.entries(generatedFiles())) {
    const committed = readFileSync(join(REPO_ROOT, path), 'utf8');
    assert.ok(committed === fresh, `${path} is stale: run node operator/api/generate.ts`);
  }
});

test('the CRD file parses back to the CRD object', () => {
  assert.deepEqual(parse(generatedFiles()[CRD_PATH]!), zkEnsembleCrd());
});
