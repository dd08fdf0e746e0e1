/**
 * Where each downloadable preset's file comes from, as rembg publishes it: every URL and checksum
 * below is copied from the `download_models` of the rembg session file named beside it
 * (https://github.com/danielgatis/rembg, rembg/sessions/*.py; pooch checks them the same way).
 * No onnxruntime here: the `cutout-models` CLI imports this without loading a model.
 */

export type HashAlgorithm = 'md5' | 'sha256';

export interface Checksum {
  readonly algorithm: HashAlgorithm;
  readonly hex: string;
  /** Where this file and checksum come from, when it is not the preset's main URL. */
  readonly source?: string;
}

export interface CatalogueEntry {
  readonly preset: string;
  /** The URL rembg downloads from. */
  readonly url: string;
  /** rembg's checksum first; other accepted builds of the same network after it. */
  readonly checksums: readonly Checksum[];
  /** The licence of the weights as their authors publish it (check it before use). */
  readonly licence: string;
  /** Who trained the network. */
  readonly origin: string;
  /** What it is good at, for the README and `cutout-models list`. */
  readonly goodFor: string;
  /** The rembg file the URL and checksum were read from. */
  readonly sessionFile: string;
}

const RELEASE = 'https://github.com/danielgatis/rembg/releases/download/v0.0.0/';

function entry(preset: string, file: string, checksum: string, sessionFile: string, licence: string, origin: string, goodFor: string): CatalogueEntry {
  const [algorithm, hex] = checksum.split(':') as [HashAlgorithm, string];
  return { preset, url: RELEASE + file, checksums: [{ algorithm, hex }], licence, origin, goodFor, sessionFile };
}

/**
 * @imgly/background-removal-data 1.4.5 (npm, AGPL-3.0) carries IS-Net weights in chunks
 * (dist/resources.json, "/models/medium"); assembled, they are this file. Same network and tensor
 * names as rembg's isnet-general-use.onnx, smaller file (88 MB); `pull --from-npm` makes it.
 */
export const NPM_ISNET = Object.freeze({
  packageName: '@imgly/background-removal-data',
  version: '1.4.5',
  resource: '/models/medium',
  licence: 'AGPL-3.0',
  sha256: 'b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb',
});

const U2NET_ORIGIN = 'U²-Net, Qin et al. (github.com/xuebinqin/U-2-Net)';
const BIREFNET_ORIGIN = 'BiRefNet, Zheng et al. (github.com/ZhengPeng7/BiRefNet)';

export const CATALOGUE: Readonly<Record<string, CatalogueEntry>> = Object.freeze({
  u2net: entry('u2net', 'u2net.onnx', 'md5:60024c5c889badc19c04ad937298a77b', 'u2net.py', 'Apache-2.0', U2NET_ORIGIN, 'general objects; rembg\'s default (176 MB)'),
  u2netp: entry('u2netp', 'u2netp.onnx', 'md5:8e83ca70e441ab06c318d82300c84806', 'u2netp.py', 'Apache-2.0', U2NET_ORIGIN, 'general objects, small and fast, coarser (4.6 MB)'),
  u2net_human_seg: entry('u2net_human_seg', 'u2net_human_seg.onnx', 'md5:c09ddc2e0104f800e3e1bb4652583d1f', 'u2net_human_seg.py', 'Apache-2.0', U2NET_ORIGIN, 'people (176 MB)'),
  silueta: entry('silueta', 'silueta.onnx', 'md5:55e59e0d8062d2f5d013f4725ee84782', 'silueta.py', 'Apache-2.0 (U²-Net)', 'U²-Net pruned by rembg\'s author', 'as u2net, 43 MB'),
  'isnet-general-use': {
    ...entry('isnet-general-use', 'isnet-general-use.onnx', 'md5:fc16ebd8b0c10d971d3513d564d01e29', 'dis_general_use.py', 'Apache-2.0', 'IS-Net (DIS), Qin et al. (github.com/xuebinqin/DIS)', 'general objects with fine detail; best all-rounder here (179 MB)'),
    checksums: [
      { algorithm: 'md5', hex: 'fc16ebd8b0c10d971d3513d564d01e29' },
      { algorithm: 'sha256', hex: NPM_ISNET.sha256, source: `${NPM_ISNET.packageName}@${NPM_ISNET.version} ${NPM_ISNET.resource} (AGPL-3.0), assembled by pull --from-npm` },
    ],
  },
  'isnet-anime': entry('isnet-anime', 'isnet-anime.onnx', 'md5:6f184e756bb3bd901c8849220a83e38e', 'dis_anime.py', 'Apache-2.0', 'SkyTNT anime-segmentation (IS-Net)', 'anime and illustrated characters (176 MB)'),
  'birefnet-general': entry('birefnet-general', 'BiRefNet-general-epoch_244.onnx', 'md5:7a35a0141cbbc80de11d9c9a28f52697', 'birefnet_general.py', 'MIT', BIREFNET_ORIGIN, 'general objects, highest quality, slow (973 MB)'),
  'birefnet-general-lite': entry('birefnet-general-lite', 'BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx', 'md5:4fab47adc4ff364be1713e97b7e66334', 'birefnet_general_lite.py', 'MIT', BIREFNET_ORIGIN, 'general objects, faster BiRefNet (224 MB)'),
  'birefnet-portrait': entry('birefnet-portrait', 'BiRefNet-portrait-epoch_150.onnx', 'md5:c3a64a6abf20250d090cd055f12a3b67', 'birefnet_portrait.py', 'MIT', BIREFNET_ORIGIN, 'portraits, hair'),
  'birefnet-dis': entry('birefnet-dis', 'BiRefNet-DIS-epoch_590.onnx', 'md5:2d4d44102b446f33a4ebb2e56c051f2b', 'birefnet_dis.py', 'MIT', BIREFNET_ORIGIN, 'fine structures (DIS5K)'),
  'birefnet-hrsod': entry('birefnet-hrsod', 'BiRefNet-HRSOD_DHU-epoch_115.onnx', 'md5:c017ade5de8a50ff0fd74d790d268dda', 'birefnet_hrsod.py', 'MIT', BIREFNET_ORIGIN, 'high-resolution salient objects'),
  'birefnet-cod': entry('birefnet-cod', 'BiRefNet-COD-epoch_125.onnx', 'md5:f6d0d21ca89d287f17e7afe9f5fd3b45', 'birefnet_cod.py', 'MIT', BIREFNET_ORIGIN, 'camouflaged objects'),
  'birefnet-massive': entry('birefnet-massive', 'BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx', 'md5:33e726a2136a3d59eb0fdf613e31e3e9', 'birefnet_massive.py', 'MIT', BIREFNET_ORIGIN, 'general objects, trained on the most data'),
  'bria-rmbg': entry('bria-rmbg', 'bria-rmbg-2.0.onnx', 'sha256:5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958', 'bria_rmbg.py', 'CC BY-NC 4.0 (non-commercial; BRIA sells commercial licences)', 'BRIA AI RMBG 2.0', 'general objects, commercial-grade quality; non-commercial licence'),
});

/** The catalogue entry for a preset that can be downloaded, or undefined for built-in ones. */
export function catalogueEntry(preset: string): CatalogueEntry | undefined {
  return Object.hasOwn(CATALOGUE, preset) ? CATALOGUE[preset] : undefined;
}
