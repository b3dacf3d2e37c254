// The client and the web pages are kept in Prettier's style (`npm run format` fixes them).

import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import * as prettier from "prettier";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const FOLDERS = [here("../"), here("../test/"), here("../../../src/jobqueue/web/static/")];
const STYLED = /\.(js|ts|css|html)$/;

test("every client and page file is formatted", async () => {
  const options = JSON.parse(await readFile(here("../.prettierrc.json"), "utf8"));
  const unformatted = [];
  for (const folder of FOLDERS) {
    for (const name of await readdir(folder)) {
      if (!STYLED.test(name)) continue;
      const filepath = folder + name;
      const source = await readFile(filepath, "utf8");
      if (!(await prettier.check(source, { ...options, filepath }))) unformatted.push(filepath);
    }
  }
  assert.deepEqual(unformatted, [], "run `npm run format` in clients/js");
});
