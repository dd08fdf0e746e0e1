/** How pixel values 0..255 are brought to the model's range before mean/std. */
export type PixelScale =
  /** divide by 255 */
  | 'unit'
  /** divide by the largest value (over all channels) of the resized image, at least 1e-6, as rembg does */
  | 'max';

/**
 * What turns the model's first output channel into 8-bit mask values.
 * `none`: the output is already 0..1; ×255, rounded and clamped.
 * `minmax`: (v − min) / (max − min) ×255, truncated, as rembg does.
 * `sigmoid-minmax`: the same after a logistic sigmoid.
 */
export type MaskPostprocess = 'none' | 'minmax' | 'sigmoid-minmax';

/**
 * How the mask is made. `onnx`: one onnxruntime run on the resized image (every rembg model).
 * `graphcut`: the built-in colour-model graph cut in TypeScript on a small grid, then an ONNX
 * guided-filter graph that brings the mask to full size (see graphcut/).
 */
export type ModelKind = 'onnx' | 'graphcut';

/**
 * How images go to the model's size and masks come back. `pil-lanczos`: Pillow's LANCZOS, exactly as
 * rembg resizes (pipeline/pil-resize.ts), so a rembg model gives rembg's mask to within a level or
 * two; it costs ~0.1–0.2 s of JavaScript per 1024² step. `lanczos3`: libvips's (sharp), much faster,
 * for the built-in models.
 */
export type ResizeKernel = 'pil-lanczos' | 'lanczos3';

/** A dimension is a fixed size or the name of a size chosen at run time. */
export type Shape = readonly (number | string)[];

export interface TensorSignature {
  readonly name: string;
  readonly shape: Shape;
}

/** The published model's tensors, for documentation, /metadata and tests; the loader does not rely on them. */
export interface PublishedSignature {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /** Which parts are known and which are assumed. */
  readonly note: string;
}

export interface ModelPreset {
  readonly name: string;
  readonly description: string;
  readonly kind: ModelKind;
  /** Input height and width used when the model's input shape leaves them open (graphcut: the grid's long side). */
  readonly size: number;
  readonly scale: PixelScale;
  /** Per RGB channel, applied after scaling: (value − mean) / std. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly postprocess: MaskPostprocess;
  readonly resize: ResizeKernel;
  /** The file rembg uses for this preset, as published; absent for the built-in models. */
  readonly published?: PublishedSignature;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
/** What DIS (IS-Net) was trained with, and what rembg feeds it since "fix DIS normalization values". */
const HALF_MEAN = [0.5, 0.5, 0.5] as const;
const UNIT_STD = [1, 1, 1] as const;

function image(name: string, size: number, batch: number | string = 1): TensorSignature {
  return { name, shape: [batch, 3, size, size] };
}

function masks(names: readonly string[], size: number, batch: number | string = 1): TensorSignature[] {
  return names.map((name) => ({ name, shape: [batch, 1, size, size] }));
}

/*
 * Every value below was read from rembg's session files (https://github.com/danielgatis/rembg,
 * rembg/sessions/*.py). All of them resize with PIL's LANCZOS to a square, then call
 * BaseSession.normalize (rembg/sessions/base.py):
 *     im_ary = im_ary / max(np.max(im_ary), 1e-6)
 *     tmpImg[:, :, c] = (im_ary[:, :, c] - mean[c]) / std[c]      -> NCHW float32
 * which is `scale: 'max'` here. Each predict() then reads ort_outs[0][:, 0, :, :], min-max
 * normalises it ((pred - mi) / (ma - mi)), ×255 and .astype("uint8"), and resizes the mask back
 * with LANCZOS: `postprocess: 'minmax'`.
 */

/**
 * U²-Net exports (u2net, u2netp, u2net_human_seg, silueta) give the fused map d0 first and six side
 * outputs after it; rembg reads only the first.
 */
const U2NET_OUTPUTS = ['1959', '1960', '1961', '1962', '1963', '1964', '1965'];
const U2NET_NOTE =
  'input "input.1" and first output "1959" as other code feeding the u2net.onnx rembg uses names them; the six side-output names are assumed; ' +
  'u2netp, u2net_human_seg and silueta are taken to share the export (same network family), unverified';

/**
 * rembg/sessions/u2net.py, u2netp.py, u2net_human_seg.py, silueta.py:
 *     self.normalize(img, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (320, 320))
 * (u2net.py also clips to 0..1 after min-max, which changes nothing.)
 */
function u2netFamily(name: string, description: string): ModelPreset {
  return {
    name,
    description,
    kind: 'onnx',
    size: 320,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'minmax',
    resize: 'pil-lanczos',
    published: { inputs: [image('input.1', 320)], outputs: masks(U2NET_OUTPUTS, 320), note: U2NET_NOTE },
  };
}

/** IS-Net (DIS) gives six side outputs, the finest first; "output" and "input" as in the IS-Net export checked in the real-weights test. */
const ISNET_SIGNATURE: PublishedSignature = {
  inputs: [image('input', 1024)],
  outputs: masks(['output', 'side_2', 'side_3', 'side_4', 'side_5', 'side_6'], 1024),
  note: 'input "input" and first output "output" as the IS-Net export in @imgly/background-removal-data names them; side-output names are assumed',
};

/**
 * rembg/sessions/birefnet_general.py (BiRefNetSessionGeneral; birefnet_general_lite.py, _portrait,
 * _dis, _hrsod, _cod and _massive subclass it and change only name, file and checksum):
 *     self.normalize(img, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (1024, 1024))
 *     pred = self.sigmoid(ort_outs[0][:, 0, :, :])        -> then min-max as above
 */
function birefnet(name: string, description: string): ModelPreset {
  return {
    name,
    description,
    kind: 'onnx',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'sigmoid-minmax',
    resize: 'pil-lanczos',
    published: {
      inputs: [image('input_image', 1024)],
      outputs: masks(['output_image'], 1024),
      note: "names as BiRefNet's own ONNX export sets them; assumed for the files rembg uses",
    },
  };
}

/**
 * The built-in models take RGB/255 and give a mask already in 0..1; nothing is downloaded.
 * For cutout-graphcut, `size` is the long side of the grid the cut runs on.
 */
function builtIn(name: string, kind: ModelKind, size: number, description: string): ModelPreset {
  return { name, description, kind, size, scale: 'unit', mean: [0, 0, 0], std: [1, 1, 1], postprocess: 'none', resize: 'lanczos3' };
}

/** Every preset MODEL may name (rembg's model names). A new model family is one entry here. */
export const MODEL_PRESETS: Readonly<Record<string, ModelPreset>> = Object.freeze({
  'cutout-graphcut': builtIn(
    'cutout-graphcut',
    'graphcut',
    // 200 rather than GrabCut-at-256: the same mean IoU on the reference photos (0.63) for 60% of the max-flow time.
    200,
    'built-in: colour models of border and centre, a min-cut on a 200-pixel grid, a guided-filter upscale; general photos without downloads',
  ),
  'cutout-border': builtIn('cutout-border', 'onnx', 320, 'built-in: background = colour field of the image border; for plain-background product shots'),
  u2net: u2netFamily('u2net', 'U²-Net, general salient objects (rembg u2net.onnx)'),
  u2netp: u2netFamily('u2netp', 'U²-Net lite, general salient objects (rembg u2netp.onnx)'),
  u2net_human_seg: u2netFamily('u2net_human_seg', 'U²-Net trained for people (rembg u2net_human_seg.onnx)'),
  silueta: u2netFamily('silueta', 'U²-Net pruned to 43 MB (rembg silueta.onnx)'),
  // rembg/sessions/dis_general_use.py feeds, since rembg's commit "fix DIS normalization values",
  //     self.normalize(img, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), (1024, 1024))
  // (the same line is in dis_custom.py at rembg commit 2cc8750; before the fix it was the ImageNet
  // mean 0.485/0.456/0.406). Measured with real IS-Net weights on anime-girl-1 against rembg's own
  // result: ImageNet mean 0.85 levels off on average, mean 0.5 0.50 levels (sharp's resize) and
  // 0.003 levels with the Pillow resize (clients/src/models/isnet-real-weights.test.ts).
  'isnet-general-use': {
    name: 'isnet-general-use',
    description: 'IS-Net (DIS), general use (rembg isnet-general-use.onnx)',
    kind: 'onnx',
    size: 1024,
    scale: 'max',
    mean: HALF_MEAN,
    std: UNIT_STD,
    postprocess: 'minmax',
    resize: 'pil-lanczos',
    published: ISNET_SIGNATURE,
  },
  // rembg/sessions/dis_anime.py (the version read, rembg commit 0eaaa0b) still feeds
  //     self.normalize(img, (0.485, 0.456, 0.406), (1.0, 1.0, 1.0), (1024, 1024))
  // unlike dis_general_use.py; kept as that file says until a version with 0.5 is seen.
  'isnet-anime': {
    name: 'isnet-anime',
    description: 'IS-Net trained for anime characters (rembg isnet-anime.onnx)',
    kind: 'onnx',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: UNIT_STD,
    postprocess: 'minmax',
    resize: 'pil-lanczos',
    published: ISNET_SIGNATURE,
  },
  'birefnet-general': birefnet('birefnet-general', 'BiRefNet, general use; the output is logits (rembg birefnet-general.onnx)'),
  'birefnet-general-lite': birefnet('birefnet-general-lite', 'BiRefNet on a Swin-Tiny backbone, faster general use (rembg birefnet-general-lite.onnx)'),
  'birefnet-portrait': birefnet('birefnet-portrait', 'BiRefNet trained for portraits of people (rembg birefnet-portrait.onnx)'),
  'birefnet-dis': birefnet('birefnet-dis', 'BiRefNet trained on DIS5K, fine structures (rembg birefnet-dis.onnx)'),
  'birefnet-hrsod': birefnet('birefnet-hrsod', 'BiRefNet trained for high-resolution salient objects (rembg birefnet-hrsod.onnx)'),
  'birefnet-cod': birefnet('birefnet-cod', 'BiRefNet trained for camouflaged objects (rembg birefnet-cod.onnx)'),
  'birefnet-massive': birefnet('birefnet-massive', 'BiRefNet trained on a massive mixed dataset (rembg birefnet-massive.onnx)'),
  // rembg/sessions/bria_rmbg.py:
  //     self.normalize(img, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (1024, 1024))
  //     pred = ort_outs[0][:, 0, :, :]           -> min-max, no sigmoid
  'bria-rmbg': {
    name: 'bria-rmbg',
    description: 'BRIA RMBG 2.0 (rembg bria-rmbg.onnx); rembg applies no sigmoid to it',
    kind: 'onnx',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'minmax',
    resize: 'pil-lanczos',
    published: {
      inputs: [image('pixel_values', 1024, 'batch_size')],
      outputs: masks(['alphas'], 1024, 'batch_size'),
      note: 'names and the dynamic batch dimension are assumed',
    },
  },
  // Not here: u2net_cloth_seg (rembg/sessions/u2net_cloth_seg.py) feeds 768×768 with the ImageNet
  // mean/std but reads a four-class output with log_softmax + argmax and returns three masks
  // (upper, lower, full body), which rembg's remove() stacks into one image three times as tall.
  // That is not one alpha mask per image; serving it needs a class choice in the API first.
  // Also not here: sam (prompted, two models) and the *_custom sessions (any file: use MODEL=<preset>:<path>).
});

/** Older names that still work; users type rembg's names above. */
export const PRESET_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  isnet: 'isnet-general-use',
  birefnet: 'birefnet-general',
});

/** The preset a name (or alias) stands for. */
export function findPreset(name: string): ModelPreset | undefined {
  // Own keys only, so MODEL=constructor is an unknown preset rather than Object's prototype.
  const canonical = Object.hasOwn(PRESET_ALIASES, name) ? PRESET_ALIASES[name]! : name;
  return Object.hasOwn(MODEL_PRESETS, canonical) ? MODEL_PRESETS[canonical] : undefined;
}

/** Presets whose model file ships with predict (made by `npm run model:build`), found from this module so any cwd works. */
export const BUILT_IN_MODEL_FILES: Readonly<Record<string, URL>> = Object.freeze({
  'cutout-border': new URL('../../models/cutout-border.onnx', import.meta.url),
  'cutout-graphcut': new URL('../../models/cutout-graphcut-upscale.onnx', import.meta.url),
});

/** The default MODEL, and the convention a bare `MODEL=/path/to/model.onnx` is run with. */
export const DEFAULT_PRESET = 'cutout-graphcut';
/** A bare .onnx path is a file model; it gets the border model's plain RGB/255-in, 0..1-out convention. */
export const FILE_DEFAULT_PRESET = 'cutout-border';
