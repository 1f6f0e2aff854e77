//! tract: parse ONNX bytes, optimise once with a symbolic batch dimension (and once more for a
//! single row), run batches.

use std::sync::Arc;

use tract_onnx::{
    prelude::*,
    tract_hir::infer::{Factoid, ShapeFactoid},
};

use super::{
    error::{ModelError, TractStage},
    metadata::TensorSpec,
};

/// A parsed (not yet optimised) ONNX graph.
#[derive(Debug)]
pub struct OnnxGraph {
    model: InferenceModel,
}

/// Decoder messages that mean the bytes ended early (prost's wording).
const TRUNCATION_HINTS: [&str; 2] = ["buffer underflow", "unexpected end"];

impl OnnxGraph {
    /// Decode ONNX bytes. A protobuf that ends early is [`ModelError::Truncated`]; any other
    /// decoding or graph-building failure is [`ModelError::Corrupt`].
    /// tract can panic on a malformed graph; that is [`ModelError::Corrupt`] too.
    pub fn parse(bytes: &[u8]) -> Result<Self, ModelError> {
        std::panic::catch_unwind(|| Self::parse_unguarded(bytes)).unwrap_or_else(|_| {
            Err(ModelError::Corrupt {
                detail: "tract panicked while building the graph".into(),
            })
        })
    }

    fn parse_unguarded(bytes: &[u8]) -> Result<Self, ModelError> {
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(|e| {
            let detail = format!("{e:#}");
            if TRUNCATION_HINTS.iter().any(|h| detail.contains(h)) {
                ModelError::Truncated { detail }
            } else {
                ModelError::Corrupt { detail }
            }
        })?;
        if proto.graph.is_none() {
            return Err(ModelError::Corrupt {
                detail: "no graph in the file".into(),
            });
        }
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| ModelError::Corrupt {
                detail: format!("{e:#}"),
            })?;
        Ok(Self { model })
    }

    /// The graph's inputs as declared in the file (symbolic or unknown dimensions as `-1`).
    pub fn inputs(&self) -> Vec<TensorSpec> {
        let outlets = self.model.input_outlets().unwrap_or_default();
        outlets
            .iter()
            .map(|o| TensorSpec {
                name: self.model.node(o.node).name.clone(),
                shape: self
                    .model
                    .outlet_fact(*o)
                    .map(|f| declared_shape(&f.shape))
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Names of the graph's outputs.
    pub fn output_names(&self) -> Vec<String> {
        let outlets = self.model.output_outlets().unwrap_or_default();
        outlets
            .iter()
            .map(|o| {
                self.model
                    .outlet_label(*o)
                    .map_or_else(|| self.model.node(o.node).name.clone(), str::to_owned)
            })
            .collect()
    }

    /// Fix every input to f32 of `shapes` (in graph order; `-1` = one shared symbolic batch
    /// dimension), optimise once and make the plan runnable on one thread. A graph with a batch
    /// dimension also gets a plan for exactly one row: tract runs that one about 30 % faster
    /// (no symbolic shapes to resolve per call), and the monitor and a `classified_n` beat model
    /// call with one row at a time.
    /// tract can panic on a malformed graph (seen in shape inference); that is a typed error too.
    pub fn optimise(self, shapes: &[TensorSpec]) -> Result<OnnxModel, ModelError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.optimise_unguarded(shapes)
        }))
        .unwrap_or_else(|_| {
            Err(ModelError::Tract {
                stage: TractStage::Optimise,
                detail: "tract panicked on this graph".into(),
            })
        })
    }

    fn optimise_unguarded(self, shapes: &[TensorSpec]) -> Result<OnnxModel, ModelError> {
        let batched = shapes.iter().any(|s| s.shape.iter().any(|&d| d < 0));
        let single_row = if batched {
            Some(plan(self.model.clone(), shapes, Batch::One)?.0)
        } else {
            None
        };
        let (plan, output_shape) = plan(self.model, shapes, Batch::Symbolic)?;
        Ok(OnnxModel {
            plan,
            single_row,
            inputs: shapes.to_vec(),
            output_shape,
        })
    }
}

/// The batch dimension a plan is optimised for.
#[derive(Clone, Copy)]
enum Batch {
    /// Any number of rows (the symbol `N`).
    Symbolic,
    /// Exactly one row.
    One,
}

/// Type, optimise and make runnable (one thread) with the inputs of `shapes`; the plan and the
/// output shape after type inference (`-1` = batch or unknown).
fn plan(
    mut model: InferenceModel,
    shapes: &[TensorSpec],
    batch: Batch,
) -> Result<(Arc<TypedRunnableModel>, Vec<i64>), ModelError> {
    let fail = |e: TractError| ModelError::tract(TractStage::Optimise, &e);
    let batch_dim = match batch {
        Batch::Symbolic => TDim::from(model.sym("N")),
        Batch::One => TDim::from(1),
    };
    for (i, spec) in shapes.iter().enumerate() {
        let dims: TVec<TDim> = spec
            .shape
            .iter()
            .map(|&d| {
                if d < 0 {
                    batch_dim.clone()
                } else {
                    TDim::from(d)
                }
            })
            .collect();
        model
            .set_input_fact(i, InferenceFact::dt_shape(f32::datum_type(), dims))
            .map_err(fail)?;
    }
    let typed = model.into_typed().map_err(fail)?;
    let output_shape = typed
        .output_fact(0)
        .map(|f| f.shape.iter().map(|d| d.to_i64().unwrap_or(-1)).collect())
        .map_err(fail)?;
    let options = RunOptions {
        executor: Some(multithread::Executor::SingleThread),
        ..RunOptions::default()
    };
    let plan = typed
        .into_optimized()
        .and_then(|m| m.into_runnable_with_options(&options))
        .map_err(fail)?;
    Ok((plan, output_shape))
}

fn declared_shape(shape: &ShapeFactoid) -> Vec<i64> {
    shape
        .dims()
        .map(|d| {
            d.concretize()
                .and_then(|d| d.to_i64().ok())
                .filter(|&v| v >= 0)
                .unwrap_or(-1)
        })
        .collect()
}

/// An optimised, runnable model: f32 inputs with a batch dimension, one f32 output.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    /// The same graph optimised for one row (`None`: the graph has no batch dimension).
    single_row: Option<Arc<TypedRunnableModel>>,
    inputs: Vec<TensorSpec>,
    output_shape: Vec<i64>,
}

impl OnnxModel {
    /// The inputs the plan was optimised for (`-1` = batch).
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inputs
    }

    /// The output shape after type inference (`-1` = batch or unknown).
    pub fn output_shape(&self) -> &[i64] {
        &self.output_shape
    }

    /// Values per batch row of input `i` (the product of its non-batch dimensions).
    pub fn row_len(&self, i: usize) -> usize {
        self.inputs.get(i).map_or(0, |s| {
            s.shape.iter().filter(|&&d| d >= 0).product::<i64>() as usize
        })
    }

    /// Run one batch of `batch` rows: `data[i]` holds input `i`, row-major, `batch * row_len(i)`
    /// values. Returns the first output, row-major (`batch * output width` values).
    pub fn run(&self, batch: usize, data: &[&[f32]]) -> Result<Vec<f32>, ModelError> {
        if data.len() != self.inputs.len() {
            return Err(ModelError::BadBatch(format!(
                "{} inputs given, the model has {}",
                data.len(),
                self.inputs.len()
            )));
        }
        let mut values = TVec::with_capacity(data.len());
        for (spec, values_in) in self.inputs.iter().zip(data) {
            let shape: Vec<usize> = spec
                .shape
                .iter()
                .map(|&d| if d < 0 { batch } else { d as usize })
                .collect();
            if shape.iter().product::<usize>() != values_in.len() {
                return Err(ModelError::BadBatch(format!(
                    "input {} needs {} values for a batch of {batch}, got {}",
                    spec.name,
                    shape.iter().product::<usize>(),
                    values_in.len()
                )));
            }
            let tensor = Tensor::from_shape(&shape, values_in)
                .map_err(|e| ModelError::BadBatch(format!("{e:#}")))?;
            values.push(tensor.into_tvalue());
        }
        let fail = |e: TractError| ModelError::tract(TractStage::Run, &e);
        let plan = match &self.single_row {
            Some(single_row) if batch == 1 => single_row,
            _ => &self.plan,
        };
        // A panic inside tract must not unwind into the monitor thread or across the FFI.
        let outputs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.run(values)))
            .map_err(|_| ModelError::Tract {
                stage: TractStage::Run,
                detail: "tract panicked while running the model".into(),
            })?
            .map_err(fail)?;
        let first = outputs.first().ok_or_else(|| ModelError::Tract {
            stage: TractStage::Run,
            detail: "the model has no output".into(),
        })?;
        let view = first.to_plain_array_view::<f32>().map_err(fail)?;
        Ok(view.iter().copied().collect())
    }
}
