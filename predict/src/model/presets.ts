/** How pixel values 0..255 are brought to the model's range before mean/std. */
export type PixelScale =
  /** divide by 255 */
  | 'unit'
  /** divide by the largest value in the resized image, as rembg does */
  | 'max';

/** What turns the model's first output channel into a 0..1 mask. */
export type MaskPostprocess = 'none' | 'minmax' | 'sigmoid-minmax';

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
  /** Fixed tensor names; when absent the model's first input and first output are used. */
  readonly inputName?: string;
  readonly outputName?: string;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Every preset MODEL may name. A new model family is one entry here. */
export const MODEL_PRESETS: Readonly<Record<string, ModelPreset>> = Object.freeze({
  'cutout-border': {
    name: 'cutout-border',
    description: 'built-in: background = colour field of the image border; RGB/255 in, mask 0..1 out',
    size: 320,
    scale: 'unit',
    mean: [0, 0, 0],
    std: [1, 1, 1],
    postprocess: 'none',
    inputName: 'input',
    outputName: 'mask',
  },
  u2net: {
    name: 'u2net',
    description: 'U²-Net salient object model as packaged by rembg (u2net.onnx, u2netp.onnx)',
    size: 320,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'minmax',
  },
  isnet: {
    name: 'isnet',
    description: 'IS-Net as packaged by rembg (isnet-general-use.onnx)',
    size: 1024,
    scale: 'max',
    mean: [0.5, 0.5, 0.5],
    std: [1, 1, 1],
    postprocess: 'minmax',
  },
  birefnet: {
    name: 'birefnet',
    description: 'BiRefNet as packaged by rembg (birefnet-general.onnx and friends)',
    size: 1024,
    scale: 'max',
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    postprocess: 'sigmoid-minmax',
  },
});

/** Presets whose model file ships with predict (made by `npm run model:build`), found from this module so any cwd works. */
export const BUILT_IN_MODEL_FILES: Readonly<Record<string, URL>> = Object.freeze({
  'cutout-border': new URL('../../models/cutout-border.onnx', import.meta.url),
});

/** The convention a bare `MODEL=/path/to/model.onnx` is run with. */
export const DEFAULT_PRESET = 'cutout-border';
