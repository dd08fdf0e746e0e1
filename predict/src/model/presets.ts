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
  /** Input height and width used when the model's input shape leaves them open. */
  readonly size: number;
  readonly scale: PixelScale;
  /** Per RGB channel, applied after scaling: (value − mean) / std. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly postprocess: MaskPostprocess;
  /** The file rembg uses for this preset, as published; absent for the built-in model. */
  readonly published?: PublishedSignature;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
const UNIT_STD = [1, 1, 1] as const;

function image(name: string, size: number, batch: number | string = 1): TensorSignature {
  return { name, shape: [batch, 3, size, size] };
}

function masks(names: readonly string[], size: number, batch: number | string = 1): TensorSignature[] {
  return names.map((name) => ({ name, shape: [batch, 1, size, size] }));
}

/**
 * U²-Net exports (u2net, u2netp, u2net_human_seg, silueta) give the fused map d0 first and six side
 * outputs after it; rembg reads only the first.
 */
const U2NET_OUTPUTS = ['1959', '1960', '1961', '1962', '1963', '1964', '1965'];
const U2NET_NOTE =
  'input "input.1" and first output "1959" as other code feeding the u2net.onnx rembg uses names them; the six side-output names are assumed; ' +
  'u2netp, u2net_human_seg and silueta are taken to share the export (same network family), unverified';

function u2netFamily(name: string, description: string): ModelPreset {
  return {
    name,
    description,
    size: 320,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'minmax',
    published: { inputs: [image('input.1', 320)], outputs: masks(U2NET_OUTPUTS, 320), note: U2NET_NOTE },
  };
}

/** IS-Net (DIS) gives six side outputs, the finest first; names are assumed. */
const ISNET_SIGNATURE: PublishedSignature = {
  inputs: [image('input', 1024)],
  outputs: masks(['output', 'side_2', 'side_3', 'side_4', 'side_5', 'side_6'], 1024),
  note: 'shapes as the DIS network produces them; tensor names are assumed',
};

/** Every preset MODEL may name (rembg's model names). A new model family is one entry here. */
export const MODEL_PRESETS: Readonly<Record<string, ModelPreset>> = Object.freeze({
  'cutout-border': {
    name: 'cutout-border',
    description: 'built-in: background = colour field of the image border; RGB/255 in, mask 0..1 out',
    size: 320,
    scale: 'unit',
    mean: [0, 0, 0],
    std: [1, 1, 1],
    postprocess: 'none',
  },
  u2net: u2netFamily('u2net', 'U²-Net, general salient objects (rembg u2net.onnx)'),
  u2netp: u2netFamily('u2netp', 'U²-Net lite, general salient objects (rembg u2netp.onnx)'),
  u2net_human_seg: u2netFamily('u2net_human_seg', 'U²-Net trained for people (rembg u2net_human_seg.onnx)'),
  silueta: u2netFamily('silueta', 'U²-Net pruned to 43 MB (rembg silueta.onnx)'),
  'isnet-general-use': {
    name: 'isnet-general-use',
    description: 'IS-Net (DIS), general use (rembg isnet-general-use.onnx)',
    size: 1024,
    scale: 'max',
    // rembg's session for this model (dis_general_use) normalises with the ImageNet mean and std 1,
    // not the 0.5 the DIS authors trained with; we match rembg so the same file gives the same mask.
    mean: IMAGENET_MEAN,
    std: UNIT_STD,
    postprocess: 'minmax',
    published: ISNET_SIGNATURE,
  },
  'isnet-anime': {
    name: 'isnet-anime',
    description: 'IS-Net trained for anime characters (rembg isnet-anime.onnx)',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: UNIT_STD,
    postprocess: 'minmax',
    published: ISNET_SIGNATURE,
  },
  'birefnet-general': {
    name: 'birefnet-general',
    description: 'BiRefNet, general use; the output is logits (rembg birefnet-general.onnx)',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'sigmoid-minmax',
    published: {
      inputs: [image('input_image', 1024)],
      outputs: masks(['output_image'], 1024),
      note: 'names as BiRefNet\'s own ONNX export sets them; assumed for the file rembg uses',
    },
  },
  'bria-rmbg': {
    name: 'bria-rmbg',
    description: 'BRIA RMBG 2.0 (rembg bria-rmbg.onnx); rembg applies no sigmoid to it',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'minmax',
    published: {
      inputs: [image('pixel_values', 1024, 'batch_size')],
      outputs: masks(['alphas'], 1024, 'batch_size'),
      note: 'names and the dynamic batch dimension are assumed',
    },
  },
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
});

/** The convention a bare `MODEL=/path/to/model.onnx` is run with. */
export const DEFAULT_PRESET = 'cutout-border';
