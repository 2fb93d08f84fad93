// The real peer for HubInteropTests: @huggingface/hub (HuggingFace's JavaScript client) filling and scanning the cache.
//   node hub-interop.mjs snapshot HUB_URL CACHE_DIR REPO REVISION   -> {"folder": ...}   (snapshotDownload)
//   node hub-interop.mjs file HUB_URL CACHE_DIR REPO REVISION PATH  -> {"path": ...}     (downloadFileToCacheDir)
//   node hub-interop.mjs scan CACHE_DIR                             -> {"repos": [...], "warnings": [...]} (scanCacheDir)
import { basename } from "node:path";
import { snapshotDownload, downloadFileToCacheDir, scanCacheDir } from "@huggingface/hub";

// The library logs progress with console.debug/info (stdout); stdout carries only the JSON result.
console.debug = console.info = console.log = (...args) => console.error(...args);

const [command, ...args] = process.argv.slice(2);
const result = await run(command, args);
process.stdout.write(JSON.stringify(result));

async function run(command, args) {
	switch (command) {
		case "snapshot": {
			const [hubUrl, cacheDir, repo, revision] = args;
			return { folder: await snapshotDownload({ repo, revision, hubUrl, cacheDir }) };
		}
		case "file": {
			const [hubUrl, cacheDir, repo, revision, path] = args;
			return { path: await downloadFileToCacheDir({ repo, revision, path, hubUrl, cacheDir }) };
		}
		case "scan": {
			const info = await scanCacheDir(args[0]);
			return {
				repos: info.repos.map((r) => ({
					id: r.id.name,
					type: r.id.type,
					revisions: r.revisions.map((v) => ({
						commit: v.commitOid,
						refs: [...v.refs].sort(),
						files: v.files.map((f) => ({ name: basename(f.path), blob: f.blob.path, size: f.blob.size })),
					})),
				})),
				warnings: info.warnings.map((w) => String(w?.message ?? w)),
			};
		}
		default:
			throw new Error(`unknown command '${command}'; use snapshot, file or scan`);
	}
}
