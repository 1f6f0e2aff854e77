//! Model loading: the embedded models work, and every damaged or mismatched model file gives its
//! typed error (never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{Value, json};
use stressbeat_core::{
    Error,
    model::{
        BeatClassifier, CORE_VOCABULARY, HrvFallback, ModelError, OnnxGraph, StressModel,
        TensorSpec, TractStage, sha256_hex,
    },
    model_input::beat::{BEAT_INPUTS_REVISION, TemplateRule},
};

fn model_file(name: &str) -> Vec<u8> {
    let p = stressbeat_e2e::repo_file(&format!("models/{name}"));
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shipped models belong in models/)",
            p.display()
        )
    })
}

fn stress_files() -> (Vec<u8>, Value) {
    let json = serde_json::from_slice(&model_file("stress.json")).unwrap();
    (model_file("stress.onnx"), json)
}

fn beat_files() -> (Vec<u8>, Value) {
    let json = serde_json::from_slice(&model_file("beat-type.json")).unwrap();
    (model_file("beat-type.onnx"), json)
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn load_stress(onnx: &[u8], meta: &Value) -> Result<StressModel, ModelError> {
    StressModel::load(onnx, &bytes(meta))
}

#[test]
fn embedded_models_load_and_match_the_files() {
    let stress = StressModel::embedded().expect("embedded stress model");
    let beat = BeatClassifier::embedded().expect("embedded beat model");
    let (onnx, meta) = stress_files();
    assert_eq!(stress.metadata().onnx_sha256, sha256_hex(&onnx));
    assert_eq!(stress.metadata().name, meta["name"].as_str().unwrap());
    let (onnx, _) = beat_files();
    assert_eq!(beat.metadata().onnx_sha256, sha256_hex(&onnx));
    // the fallback needs only the metadata
    HrvFallback::embedded().expect("embedded fallback");
}

#[test]
fn stress_batch_gives_one_probability_per_window_and_batching_changes_nothing() {
    let model = StressModel::embedded().unwrap();
    let nf = CORE_VOCABULARY.hrv_features.len();
    let windows = 5;
    let images: Vec<u8> = (0..windows * model.image_len())
        .map(|i| ((i * 37) % 251) as u8)
        .collect();
    let features: Vec<f32> = (0..windows * nf)
        .map(|i| 20.0 + (i % 13) as f32 * 7.0)
        .collect();
    let batch = model.predict(&images, &features, None).unwrap();
    assert_eq!(batch.len(), windows);
    for (w, &p) in batch.iter().enumerate() {
        assert!((0.0..=1.0).contains(&p), "window {w}: {p}");
        let one = model
            .predict(
                &images[w * model.image_len()..(w + 1) * model.image_len()],
                &features[w * nf..(w + 1) * nf],
                None,
            )
            .unwrap();
        assert!((one[0] - p).abs() < 1e-5, "batched {p} vs alone {}", one[0]);
    }
    // a personal baseline is an input: it changes the answer
    let baseline: Vec<f32> = features[..nf].iter().map(|v| v * 0.5).collect();
    let with = model.predict(&images, &features, Some(&baseline)).unwrap();
    assert_ne!(with, batch);
    // wrong sizes are a typed error (a partial window of features, or of image bytes)
    assert!(matches!(
        model.predict(&images, &features[1..], None),
        Err(ModelError::BadBatch(_))
    ));
    if model.image_len() > 0 {
        assert!(matches!(
            model.predict(&images[1..], &features, None),
            Err(ModelError::BadBatch(_))
        ));
    }
}

#[test]
fn fallback_follows_its_logistic_regression() {
    let (_, meta) = stress_files();
    let fb = &meta["hrv_fallback"];
    let model = StressModel::embedded().unwrap();
    let names = CORE_VOCABULARY.hrv_features;
    let features: Vec<f32> = (0..names.len()).map(|i| 30.0 + i as f32 * 11.0).collect();
    let baseline: Vec<f32> = features.iter().map(|v| v * 0.8).collect();
    // the same regression written out from the JSON
    let mut logit = fb["intercept"].as_f64().unwrap();
    for (j, name) in fb["features"].as_array().unwrap().iter().enumerate() {
        let i = names
            .iter()
            .position(|n| *n == name.as_str().unwrap())
            .unwrap();
        let mut x = f64::from(features[i]);
        if fb["baseline_relative"][j].as_bool().unwrap() {
            x -= f64::from(baseline[i]);
        }
        logit += fb["coef"][j].as_f64().unwrap() * (x - fb["mean"][j].as_f64().unwrap())
            / fb["std"][j].as_f64().unwrap();
    }
    let expected = 1.0 / (1.0 + (-logit).exp());
    let got = model
        .fallback_probability(&features, Some(&baseline))
        .unwrap();
    assert!(
        (f64::from(got) - expected).abs() < 1e-5,
        "{got} vs {expected}"
    );
    let mut missing = features.clone();
    missing.iter_mut().for_each(|v| *v = f32::NAN);
    assert_eq!(model.fallback_probability(&missing, None), None);
}

/// The shipped regression in numpy's terms (`models/training/feature_models.py`): the design
/// columns `[x, T(x), x - b, T(x) - T(b), hr_z]` times `shipped.W`, plus `shipped.bias`; column
/// 0 of each is the setting without a baseline, column 1 the one with.
fn shipped_regression_probability(report: &Value, x: &[f32], b: &[f32], with: bool) -> f64 {
    let protocol = &report["protocol"];
    let names = CORE_VOCABULARY.hrv_features;
    let logs: Vec<&str> = protocol["log_features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let floor = protocol["log_floor"].as_f64().unwrap();
    let t = |v: &[f32]| -> Vec<f64> {
        names
            .iter()
            .zip(v)
            .map(|(n, &v)| {
                let v = f64::from(v);
                if logs.contains(n) {
                    v.max(floor).ln()
                } else {
                    v
                }
            })
            .collect()
    };
    let (tx, tb) = (t(x), t(b));
    let at = |n: &str| names.iter().position(|k| *k == n).unwrap();
    let (hr, nn, sdnn) = (at("hr_bpm"), at("mean_nn_ms"), at("sdnn_ms"));
    let z = &protocol["hr_z"];
    let scale = (f64::from(b[hr]) * f64::from(b[sdnn])
        / f64::from(b[nn]).max(z["min_nn_ms"].as_f64().unwrap()))
    .max(z["min_scale_bpm"].as_f64().unwrap());
    let mut columns: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    columns.extend(&tx);
    columns.extend(x.iter().zip(b).map(|(&a, &c)| f64::from(a) - f64::from(c)));
    columns.extend(tx.iter().zip(&tb).map(|(a, c)| a - c));
    columns.push((f64::from(x[hr]) - f64::from(b[hr])) / scale);
    let setting = usize::from(with);
    let w = report["shipped"]["W"].as_array().unwrap();
    assert_eq!(
        w.len(),
        columns.len(),
        "the report's weights fit the design columns"
    );
    let logit = columns
        .iter()
        .zip(w)
        .map(|(c, row)| c * row[setting].as_f64().unwrap())
        .sum::<f64>()
        + report["shipped"]["bias"][setting].as_f64().unwrap();
    1.0 / (1.0 + (-logit).exp())
}

/// tract, running the embedded graph, gives what the training report says it ships, in both
/// settings, also where the baseline's HR spread hits its floor.
#[test]
fn stress_model_is_the_regression_of_its_training_report() {
    let report: Value =
        serde_json::from_slice(&model_file("reports/stress_feature_models.json")).unwrap();
    let (_, meta) = stress_files();
    let population: Vec<f32> = meta["population_baseline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let model = StressModel::embedded().unwrap();
    let names = CORE_VOCABULARY.hrv_features;
    let at = |n: &str| names.iter().position(|k| *k == n).unwrap();
    let window = |hr: f32, sdnn: f32| {
        let mut v = population.clone();
        v[at("hr_bpm")] = hr;
        v[at("mean_nn_ms")] = 60_000.0 / hr;
        v[at("sdnn_ms")] = sdnn;
        v
    };
    let mut checked = 0;
    for base in [window(62.0, 55.0), window(80.0, 20.0), window(95.0, 0.1)] {
        for hr in [55.0, 64.0, 70.0, 84.0, 100.0, 130.0] {
            let x = window(hr, 30.0);
            for with in [false, true] {
                let b = if with { &base } else { &population };
                let got = model.predict(&[], &x, with.then_some(&base[..])).unwrap()[0];
                let expected = shipped_regression_probability(&report, &x, b, with);
                assert!(
                    (f64::from(got) - expected).abs() < 1e-4,
                    "hr {hr}, baseline {base:?}, with {with}: tract {got}, report {expected}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 36);
}

/// The sums, and one row alone (the core's one-row plan) gives the batch plan's probabilities.
#[test]
fn beat_batch_gives_probabilities_that_sum_to_one() {
    let model = BeatClassifier::embedded().unwrap();
    let (len, nrr) = (
        CORE_VOCABULARY.beat_channels * CORE_VOCABULARY.beat_length,
        CORE_VOCABULARY.rr_features.len(),
    );
    let n = 300; // more than one internal batch
    let beats: Vec<f32> = (0..n * len)
        .map(|i| ((i % len) as f32 / 9.0).sin())
        .collect();
    let rr: Vec<f32> = (0..n * nrr).map(|i| 0.6 + (i % 7) as f32 * 0.05).collect();
    let preds = model.classify(&beats, &rr).unwrap();
    assert_eq!(preds.len(), n);
    for p in &preds {
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        assert_eq!(
            p.confidence,
            p.probabilities.iter().copied().fold(0.0, f32::max)
        );
    }
    for (i, batched) in preds.iter().enumerate().take(20) {
        let alone = model
            .classify(&beats[i * len..(i + 1) * len], &rr[i * nrr..(i + 1) * nrr])
            .unwrap();
        for (a, b) in alone[0].probabilities.iter().zip(&batched.probabilities) {
            assert!((a - b).abs() < 1e-5, "row {i}: alone {a}, batched {b}");
        }
    }
    assert!(matches!(
        model.classify(&beats[..len + 1], &rr[..nrr]),
        Err(ModelError::BadBatch(_))
    ));
}

#[test]
fn a_flipped_bit_is_a_checksum_mismatch_or_corrupt_never_accepted() {
    let (onnx, meta) = stress_files();
    let mut checksum_errors = 0;
    for k in 1..50 {
        let mut bad = onnx.clone();
        let at = bad.len() * k / 50;
        bad[at] ^= 0x01;
        match load_stress(&bad, &meta) {
            Err(ModelError::ChecksumMismatch { expected, found }) => {
                assert_eq!(expected, meta["onnx_sha256"].as_str().unwrap());
                assert_eq!(found, sha256_hex(&bad));
                checksum_errors += 1;
            }
            Err(ModelError::Corrupt { .. } | ModelError::Truncated { .. }) => {}
            other => panic!("byte {at} flipped: {other:?}"),
        }
    }
    // a flipped bit in the weights still decodes: only the checksum catches it
    assert!(checksum_errors > 0, "no flip reached the checksum");
}

#[test]
fn a_truncated_file_is_truncated() {
    let (onnx, meta) = stress_files();
    for cut in [onnx.len() / 3, onnx.len() / 2, onnx.len() * 3 / 4] {
        let err = load_stress(&onnx[..cut], &meta).unwrap_err();
        assert!(
            matches!(err, ModelError::Truncated { .. }),
            "cut at {cut}: {err:?}"
        );
    }
    let err = load_stress(&[], &meta).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err:?}");
}

#[test]
fn bad_metadata_is_bad_metadata() {
    let (onnx, meta) = stress_files();
    for json in [
        b"not json".to_vec(),
        b"{}".to_vec(),
        bytes(&json!({"format": "stressbeat-model/1"})),
    ] {
        let err = StressModel::load(&onnx, &json).unwrap_err();
        assert!(matches!(err, ModelError::BadMetadata { .. }), "{err:?}");
    }
    let mut m = meta.clone();
    m["format"] = json!("stressbeat-model/2");
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::BadMetadata { .. })
    ));
    let mut m = meta.clone();
    m["threshold"] = json!(1.5);
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::BadMetadata { .. })
    ));
    let mut m = meta.clone();
    m["hrv_fallback"]["std"][0] = json!(0.0);
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::BadMetadata { .. })
    ));
    let mut m = meta;
    m.as_object_mut().unwrap().remove("hrv_fallback");
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::BadMetadata { .. })
    ));
}

/// `beat.template` names the template rule: absent is the previous beats (models up to 8.x);
/// `classified_n` needs a stale length of at least one and beat inputs of revision 3.
#[test]
fn beat_template_rules_load_and_bad_ones_are_bad_metadata() {
    let (onnx, meta) = beat_files();
    let rule = |m: &Value| BeatClassifier::load(&onnx, &bytes(m)).map(|b| b.template_rule());
    let mut m = meta.clone();
    m["beat"].as_object_mut().unwrap().remove("template");
    assert_eq!(rule(&m).unwrap(), TemplateRule::Previous);
    m["beat"]["template"] = json!({"rule": "previous"});
    assert_eq!(rule(&m).unwrap(), TemplateRule::Previous);
    m["beat"]["inputs_revision"] = json!(3);
    m["beat"]["template"] = json!({"rule": "classified_n", "stale": 16});
    assert_eq!(rule(&m).unwrap(), TemplateRule::ClassifiedN { stale: 16 });
    for (template, revision) in [
        (json!({"rule": "classified_n", "stale": 0}), 3),
        (json!({"rule": "classified_n"}), 3),
        (json!({"rule": "classified_v", "stale": 16}), 3),
        (json!("classified_n"), 3),
        (json!({"rule": "classified_n", "stale": 16}), 2),
    ] {
        m["beat"]["template"] = template.clone();
        m["beat"]["inputs_revision"] = json!(revision);
        let err = rule(&m).unwrap_err();
        assert!(
            matches!(err, ModelError::BadMetadata { .. }),
            "{template} at revision {revision}: {err:?}"
        );
    }
}

#[test]
fn wrong_task_is_a_task_mismatch() {
    let (onnx, meta) = stress_files();
    let err = BeatClassifier::load(&onnx, &bytes(&meta)).unwrap_err();
    assert_eq!(
        err,
        ModelError::TaskMismatch {
            expected: "beat_type".into(),
            found: "stress".into()
        }
    );
    let (onnx, meta) = beat_files();
    let err = load_stress(&onnx, &meta).unwrap_err();
    assert!(matches!(err, ModelError::TaskMismatch { .. }), "{err:?}");
}

#[test]
fn wrong_label_order_is_a_label_mismatch() {
    let (onnx, mut meta) = beat_files();
    meta["output"]["labels"] = json!(["N", "V", "S", "F", "Q"]);
    let err = BeatClassifier::load(&onnx, &bytes(&meta)).unwrap_err();
    let ModelError::LabelMismatch { expected, found } = err else {
        panic!("{err:?}")
    };
    assert_eq!(expected, ["N", "S", "V", "F", "Q"]);
    assert_eq!(found, ["N", "V", "S", "F", "Q"]);
    let (onnx, mut meta) = stress_files();
    meta["output"]["labels"] = json!(["stress", "calm"]);
    assert!(matches!(
        load_stress(&onnx, &meta),
        Err(ModelError::LabelMismatch { .. })
    ));
}

#[test]
fn names_the_core_cannot_compute_are_mismatches() {
    let (onnx, meta) = stress_files();
    let mut m = meta.clone();
    m["image_channels"]
        .as_array_mut()
        .unwrap()
        .push(json!("spectrogram"));
    let err = load_stress(&onnx, &m).unwrap_err();
    assert!(
        matches!(&err, ModelError::ChannelMismatch { found, .. } if found == "spectrogram"),
        "{err:?}"
    );
    let mut m = meta.clone();
    m["features"][0] = json!("skin_conductance");
    let err = load_stress(&onnx, &m).unwrap_err();
    assert!(
        matches!(&err, ModelError::FeatureMismatch { field, found, .. } if field == "features" && found == "skin_conductance"),
        "{err:?}"
    );
    let mut m = meta.clone();
    m["population_baseline"].as_array_mut().unwrap().pop();
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::FeatureMismatch { field, .. }) if field == "population_baseline"
    ));
    let mut m = meta;
    m["sampling_rate_hz"] = json!(250.0);
    assert!(matches!(
        load_stress(&onnx, &m),
        Err(ModelError::FeatureMismatch { field, .. }) if field == "sampling_rate_hz"
    ));
    let (onnx, meta) = beat_files();
    let mut m = meta.clone();
    m["beat"]["length"] = json!(CORE_VOCABULARY.beat_length + 1);
    let err = BeatClassifier::load(&onnx, &bytes(&m)).unwrap_err();
    assert!(
        matches!(&err, ModelError::FeatureMismatch { field, .. } if field == "beat.length"),
        "{err:?}"
    );
    // beat-input rules newer than the core's: a mismatch
    let mut m = meta.clone();
    m["beat"]["inputs_revision"] = json!(BEAT_INPUTS_REVISION + 1);
    let err = BeatClassifier::load(&onnx, &bytes(&m)).unwrap_err();
    assert!(
        matches!(&err, ModelError::FeatureMismatch { field, .. } if field == "beat.inputs_revision"),
        "{err:?}"
    );
    // older ones load and say which they are (a file without the field is revision 1, and has
    // the previous beats' template)
    let mut m = meta;
    m["beat"].as_object_mut().unwrap().remove("inputs_revision");
    m["beat"].as_object_mut().unwrap().remove("template");
    let old = BeatClassifier::load(&onnx, &bytes(&m)).unwrap();
    assert_eq!(old.metadata().beat.as_ref().unwrap().inputs_revision, 1);
}

#[test]
fn a_graph_whose_inputs_differ_from_the_metadata_is_a_shape_mismatch() {
    // metadata consistent in itself (one channel more than the graph takes, and the image
    // input's shape says so) but the graph takes one channel fewer (or no image at all)
    let (onnx, mut meta) = stress_files();
    let graph_has_image = meta["inputs"][0]["name"] == json!("image");
    let unused = CORE_VOCABULARY
        .image_channels
        .iter()
        .find(|c| {
            !meta["image_channels"]
                .as_array()
                .unwrap()
                .contains(&json!(c.name()))
        })
        .unwrap();
    meta["image_channels"]
        .as_array_mut()
        .unwrap()
        .push(json!(unused.name()));
    let channels = meta["image_channels"].as_array().unwrap().len();
    let side = CORE_VOCABULARY.image_side;
    let image = json!({"name": "image", "shape": [-1, channels, side, side]});
    if graph_has_image {
        meta["inputs"][0] = image;
    } else {
        meta["inputs"].as_array_mut().unwrap().insert(0, image);
    }
    let err = load_stress(&onnx, &meta).unwrap_err();
    let ModelError::ShapeMismatch {
        name,
        expected,
        found,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(name, "graph input 0");
    let graph_input_0 = if graph_has_image {
        (channels - 1).to_string()
    } else {
        "features".to_owned()
    };
    assert!(
        expected.contains(&channels.to_string()) && found.contains(&graph_input_0),
        "{expected} / {found}"
    );
    // the beat graph under the stress metadata (checksum updated): inputs differ
    let (beat_onnx, _) = beat_files();
    let (_, mut meta) = stress_files();
    meta["onnx_sha256"] = json!(sha256_hex(&beat_onnx));
    let err = load_stress(&beat_onnx, &meta).unwrap_err();
    assert!(matches!(err, ModelError::ShapeMismatch { .. }), "{err:?}");
    // metadata whose inputs contradict its own features
    let (onnx, mut meta) = stress_files();
    meta["inputs"][1]["shape"][1] = json!(99);
    let err = load_stress(&onnx, &meta).unwrap_err();
    assert!(
        matches!(&err, ModelError::ShapeMismatch { name, .. } if name == "metadata input 1"),
        "{err:?}"
    );
}

#[test]
fn tract_failing_to_optimise_is_typed() {
    let (onnx, _) = beat_files();
    let graph = OnnxGraph::parse(&onnx).unwrap();
    let mut shapes = graph.inputs();
    shapes[0].shape = vec![-1, 2, 7]; // too short for the convolutions and pooling
    shapes[1] = TensorSpec::new(&shapes[1].name, &[-1, 3, 3]);
    let err = graph.optimise(&shapes).unwrap_err();
    assert!(
        matches!(
            err,
            ModelError::Tract {
                stage: TractStage::Optimise,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn missing_metadata_file_is_typed() {
    let dir = std::env::temp_dir().join(format!("stressbeat-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let onnx = dir.join("stress.onnx");
    std::fs::write(&onnx, model_file("stress.onnx")).unwrap();
    let err = StressModel::load_from_path(&onnx).unwrap_err();
    assert!(
        matches!(err, Error::Model(ModelError::MissingMetadata { .. })),
        "{err:?}"
    );
    // with the metadata beside it, the same path loads
    std::fs::write(dir.join("stress.json"), model_file("stress.json")).unwrap();
    StressModel::load_from_path(&onnx).unwrap();
    let err = StressModel::load_from_path(&dir.join("absent.onnx")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A model path that is a device or a huge file is refused before it is read (`/dev/zero`
/// would fill the memory).
#[test]
fn model_files_that_are_devices_or_huge_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.onnx");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(stressbeat_core::io::MAX_MODEL_FILE_BYTES + 1)
        .unwrap();
    std::fs::write(dir.path().join("huge.json"), model_file("stress.json")).unwrap();
    let err = StressModel::load_from_path(&huge).unwrap_err();
    assert!(
        matches!(&err, Error::Unsupported { what, .. } if what.contains("64 MiB")),
        "{err:?}"
    );
    #[cfg(unix)]
    {
        let zero = dir.path().join("zero.onnx");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        std::fs::write(dir.path().join("zero.json"), model_file("stress.json")).unwrap();
        let err = BeatClassifier::load_from_path(&zero).unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { what, .. } if what == "not a regular file"),
            "{err:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let (_, meta) = stress_files();
        prop_assert!(load_stress(&data, &meta).is_err());
        let _ = BeatClassifier::load(&data, &data);
        let _ = HrvFallback::from_json(&data);
    }

    #[test]
    fn damaged_models_with_matching_checksums_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        // the checksum is updated, so the damage reaches the graph parser and tract
        let (mut onnx, mut meta) = beat_files();
        for (at, value) in &edits {
            let i = at.index(onnx.len());
            onnx[i] = *value;
        }
        if truncate {
            onnx.truncate(cut.index(onnx.len()));
        }
        meta["onnx_sha256"] = json!(sha256_hex(&onnx));
        if let Ok(model) = BeatClassifier::load(&onnx, &bytes(&meta)) {
            let (len, nrr) = (
                CORE_VOCABULARY.beat_channels * CORE_VOCABULARY.beat_length,
                CORE_VOCABULARY.rr_features.len(),
            );
            let _ = model.classify(&vec![0.1; 2 * len], &vec![0.8; 2 * nrr]);
        }
    }
}
