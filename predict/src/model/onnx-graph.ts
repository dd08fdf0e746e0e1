import onnxProto, { type onnx } from 'onnx-proto';

const { ModelProto, TensorProto, AttributeProto } = onnxProto.onnx;
const { DataType } = TensorProto;
const { AttributeType } = AttributeProto;

/** One dimension of a declared shape: a fixed size, or a name for a size chosen at run time. */
export type Dim = number | string;

/** A float32 constant, stored little-endian in raw_data so the encoding never depends on the host. */
export function floatTensor(name: string, dims: readonly number[], values: readonly number[]): onnx.ITensorProto {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytes };
}

/** An int64 constant (Slice bounds, ReduceSum axes), little-endian in raw_data. */
export function int64Tensor(name: string, values: readonly number[]): onnx.ITensorProto {
  const bytes = Buffer.alloc(values.length * 8);
  values.forEach((value, i) => bytes.writeBigInt64LE(BigInt(value), i * 8));
  return { name, dims: [values.length], dataType: DataType.INT64, rawData: bytes };
}

export type AttributeValue = number | readonly number[] | string;

/** A node; number attributes are ints unless `floats` names them as floats; strings are strings. */
export function node(
  opType: string,
  inputs: readonly string[],
  output: string,
  attributes: Record<string, AttributeValue> = {},
  floats: readonly string[] = [],
): onnx.INodeProto {
  const attribute = Object.entries(attributes).map(([name, value]): onnx.IAttributeProto => {
    const isFloat = floats.includes(name);
    if (typeof value === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(value, 'utf8') };
    if (Array.isArray(value)) {
      return isFloat ? { name, type: AttributeType.FLOATS, floats: [...value] } : { name, type: AttributeType.INTS, ints: [...value] };
    }
    return isFloat ? { name, type: AttributeType.FLOAT, f: value as number } : { name, type: AttributeType.INT, i: value as number };
  });
  return { opType, input: [...inputs], output: [output], name: output, attribute };
}

/** A float32 graph input or output with its declared shape. */
export function floatValueInfo(name: string, shape: readonly Dim[]): onnx.IValueInfoProto {
  return valueInfo(name, DataType.FLOAT, shape);
}

/** A uint8 graph input or output (raw 8-bit pixels in, mask bytes out). */
export function uint8ValueInfo(name: string, shape: readonly Dim[]): onnx.IValueInfoProto {
  return valueInfo(name, DataType.UINT8, shape);
}

function valueInfo(name: string, elemType: number, shape: readonly Dim[]): onnx.IValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

/** ONNX element types used by Cast's `to`. */
export const ELEMENT_TYPE = Object.freeze({ float: DataType.FLOAT, uint8: DataType.UINT8 });

export interface ModelParts {
  graphName: string;
  docString: string;
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  opset: number;
}

/** Wraps a graph into a model and encodes it. Nothing time- or host-dependent goes in, so equal parts give equal bytes. */
export function encodeModel(parts: ModelParts): Uint8Array {
  const model = ModelProto.create({
    // IR version 8 is the one that goes with opset 17 (ONNX 1.12).
    irVersion: 8,
    opsetImport: [{ domain: '', version: parts.opset }],
    producerName: 'cutout',
    producerVersion: '1',
    docString: parts.docString,
    graph: {
      name: parts.graphName,
      node: parts.nodes,
      initializer: parts.initializers,
      input: parts.inputs,
      output: parts.outputs,
    },
  });
  return ModelProto.encode(model).finish();
}
