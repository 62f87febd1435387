"""The Hydra configs, composed as the entry points compose them, against the spec's get_opts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import REPO
from wsps.gt.options import ConfigError, GTOptions

SPEC_DEFAULTS = {
    "data_root": "data/Cityscapes",
    "annotation_template": "%s_leftImg8bit.mat",
    "canvas_size": [1024, 2048],
    "ignore_label": 255,
    "stuff_classes": list(range(11)),
    "thing_classes": list(range(11, 19)),
    "pred_template": "%s_leftImg8bit.png",
    "pred_score_template": "%s_leftImg8bit.mat",
    "mcg_and_grabcut_template": "%s_leftImg8bit.png",
    "list_path": "lists/train_id.txt",
    "annotation_dir": "gtFine_bboxes/train/panoptic",
    "gt_label_dir": "gtFine/train",
    "gt_label_template": "%s_gtFine_labelTrainIds.png",
    "pred_root": "results",
    "score_thresh": 0.99,
    "ichk_thresh": 0.5,
    "ichk_do_not_alter_existing_things": True,
    "schk_crop_size": [400, 500],
    "pred_dir": "pred_sem_raw",
    "pred_score_dir": "pred_flat_feat",
    "mcg_and_grabcut_dir": "mcg_and_grabcut/train",
    "sem_save_dir": "pred_sem_clean",
    "ins_save_dir": "pred_ins_clean",
    "force_overwrite": True,
    "save_sem": True,
    "save_ins": True,
    "visualise_results": False,
    "run_score_thresh": True,
    "run_apply_bbox_prior": True,
    "run_check_low_iou": True,
    "run_check_image_level_tags": True,
    "run_merge_with_mcg_and_grabcut": True,
    "run_ins_box_process": True,
}


def _compose(config_name="generate_gt", overrides=()):
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def test_defaults_mirror_get_opts():
    cfg = _compose()
    assert {k: cfg[k] for k in SPEC_DEFAULTS} == SPEC_DEFAULTS
    assert cfg["split"] == "train"


def test_split_group():
    val = _compose(overrides=["split=val"])
    assert (val["list_path"], val["annotation_dir"], val["gt_label_dir"]) == (
        "lists/val_id.txt",
        "gtFine_bboxes/val/panoptic",
        "gtFine/val",
    )
    extra = _compose(overrides=["split=train_extra"])
    assert extra["gt_label_template"] == "%s_gtCoarse_labelTrainIds.png"
    assert extra["annotation_dir"] == "gtCoarse_bboxes/train_extra/panoptic"
    assert extra["mcg_and_grabcut_dir"] == "mcg_and_grabcut/train_extra"


def test_test_split_is_refused():
    cfg = _compose(overrides=["split=test"])
    with pytest.raises(ConfigError, match="test split cannot be post-processed"):
        GTOptions.from_mapping(cfg)


def test_presets():
    first = _compose(overrides=["preset=first_round", "split=val"])
    assert (first["pred_dir"], first["run_score_thresh"]) == ("cam/val", False)
    assert (first["sem_save_dir"], first["ins_save_dir"]) == ("pred_sem_cam_mandg_merged", "pred_ins_cam_mandg_merged")
    assert first["run_merge_with_mcg_and_grabcut"] is True
    later = _compose(overrides=["preset=later_rounds"])
    assert {k: later[k] for k in SPEC_DEFAULTS} == SPEC_DEFAULTS
    late = _compose(overrides=["preset=late_rounds"])
    assert late["run_merge_with_mcg_and_grabcut"] is False and late["run_score_thresh"] is True
    extra = _compose(overrides=["preset=train_extra"])
    assert extra["split"] == "train_extra" and extra["list_path"] == "lists/train_extra_id.txt"
    assert (extra["run_apply_bbox_prior"], extra["run_check_image_level_tags"], extra["save_ins"]) == (
        False,
        False,
        False,
    )
    assert extra["run_check_low_iou"] is True


def test_command_line_example_from_the_issue(tmp_path):
    overrides = [
        "split=train",
        f"data_root={tmp_path}/D",
        "pred_root=R",
        "list_path=lists/demo_id.txt",
        "score_thresh=0.9",
        "run_check_low_iou=false",
        "canvas_size=[512,1024]",
        "schk_crop_size=[200,250]",
    ]
    opts = GTOptions.from_mapping(_compose(overrides=overrides), resolve_path=lambda p: str(Path("/start") / p))
    assert opts.data_root == f"{tmp_path}/D" and opts.pred_root == "/start/R"  # relative to the start directory
    assert opts.canvas_size == (512, 1024) and opts.schk_crop_size == (200, 250)
    assert opts.score_thresh == 0.9 and opts.run_check_low_iou is False


def test_option_validation():
    cfg = _compose(overrides=["schk_crop_size=[400,2048]"])
    with pytest.raises(ConfigError, match="single crop along the width"):
        GTOptions.from_mapping(cfg)
    GTOptions.from_mapping({**cfg, "run_check_image_level_tags": False})  # the grid is only needed by the tag check
    with pytest.raises(ConfigError, match="overlap"):
        GTOptions.from_mapping({**cfg, "schk_crop_size": [400, 500], "stuff_classes": [0, 11]})
    with pytest.raises(ConfigError, match="shard_index"):
        GTOptions.from_mapping({**_compose(), "shard_index": 2, "num_shards": 2})
    with pytest.raises(ConfigError, match="pred_template must contain '%s'"):
        GTOptions.from_mapping({**_compose(), "pred_template": "pred.png"})
    with pytest.raises(ConfigError, match="save_sem must be true or false"):
        GTOptions.from_mapping({**_compose(), "save_sem": "yes"})


def test_no_instance_step_means_no_instance_map():
    opts = GTOptions.from_mapping(_compose(overrides=["run_ins_box_process=false"]))
    assert opts.save_ins is False
    assert [p.parent.name for p in opts.output_paths("a_1_2")] == ["pred_sem_clean"]


def test_prepare_config():
    cfg = _compose("prepare", ["split=val", "is_panoptic=false"])
    assert (cfg["gt_label_dir"], cfg["gt_kind"], cfg["is_panoptic"], cfg["incl_grps"], cfg["force_overwrite"]) == (
        "gtFine/val",
        "gtFine",
        False,
        True,
        False,
    )


def test_cpu_precision_uses_bfloat16_only_where_the_cpu_has_it():
    from wsps import cpu_precision

    assert cpu_precision("flags : fpu sse avx2 avx512f avx512_bf16") == "bf16-mixed"
    assert cpu_precision("flags : fpu amx_bf16 amx_tile") == "bf16-mixed"
    assert cpu_precision("flags : fpu sse avx2 fma") == "32-true"


def test_long_profile_doubles_the_segmenter_rounds_and_combines_with_a_mode():
    """bench_loop --profile long: `experiment=long`, beside a mode's own experiment."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_loop import MODES, with_profile

    def loop(overrides=()):
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=list(overrides))
        return OmegaConf.to_container(cfg.loop, resolve=True)

    default = loop()["rounds"]
    semi_long = with_profile(MODES["semi"], "long")
    assert semi_long == ["experiment=[semi,long]"] and with_profile(MODES["full"], "long") == [
        "loop.supervision=full",
        "experiment=[long]",
    ]
    cfg = loop(semi_long)
    assert cfg["supervision"] == "semi" and cfg["true_gt_fraction"] == 0.3
    assert cfg["rounds"]["1"]["segmenter"] == ["trainer.max_epochs=40"]
    assert cfg["rounds"]["2"]["segmenter"] == ["trainer.max_epochs=10"]
    assert cfg["rounds"]["2"]["gt"] == default["2"]["gt"]  # the rounds' other settings stay
    assert default["1"]["segmenter"] == ["trainer.max_epochs=20"] and with_profile(["x=1"], "default") == ["x=1"]


def test_networks_start_from_imagenet_and_the_scratch_profile_restores_random_weights(tmp_path):
    """The default: both networks on the installed EfficientNet-Lite0 ImageNet weights;
    `experiment=scratch` (bench_loop --profile scratch): regnetx_002 from random weights, with its schedule."""
    from wsps.loop.steps import Steps

    for experiment, encoder, weights, epochs in (
        ([], "tu-tf_efficientnet_lite0", "imagenet", {1: 20, 2: 5, 4: 5, "classifier": 2}),
        (["experiment=scratch"], "tu-regnetx_002", None, {1: 35, 2: 15, 4: 15, "classifier": 8}),
    ):
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=experiment)
            steps = Steps(cfg, tmp_path, "synthetic", record=None)
            run = [f"paths.output_dir={tmp_path}", "logger=csv"]
            seg = {
                k: steps.compose("train", [*run, "stage=segmenter", *steps.overrides("segmenter", k)], tmp_path)
                for k in (1, 2, 4)
            }
            clf = steps.compose("train", [*run, "stage=classifier", *steps.overrides("classifier")], tmp_path)
        assert {k: c.trainer.max_epochs for k, c in seg.items()} == {k: epochs[k] for k in (1, 2, 4)}
        assert clf.trainer.max_epochs == epochs["classifier"] and clf.model.input_scale == 2
        for c in (seg[1], seg[4], clf):
            assert c.model.net.encoder_name == encoder and c.model.net.encoder_weights == weights
    assert with_profile_of("scratch") == ["loop.supervision=full", "experiment=[scratch]"]


def test_ablation_names_the_classes_below_half_of_full_supervision():
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_ablation import classes_short

    full = {"road": 0.9, "pole": 0.11, "sign": 0.2, "rider": 0.08}
    weak = {"road": 0.5, "pole": 0.05, "sign": 0.1, "rider": 0.0}
    # road 0.56x and sign 0.5x pass; pole 0.45x fails; rider is below the 0.1 floor in full
    assert classes_short(weak, full) == ["pole"]
    assert classes_short({}, full) == ["road", "pole", "sign"]  # a class the weak run never scored


def test_ablation_variants_switch_off_what_they_name(tmp_path):
    """bench_ablation: `paper` switches every extension off in the steps it names, `+tag_loss` all
    but the tag loss, `all` is the default loop, `all-tag_loss` the default without the tag loss;
    the variant's overrides come last. A variant copies its steps before round 1 from the first
    variant with the same classifier and cue overrides."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_ablation import ABLATION, donors, variants

    from wsps.loop.steps import Steps

    config = OmegaConf.to_container(OmegaConf.load(ABLATION))
    table = variants(config["extensions"])
    assert list(table)[0] == "paper" and list(table)[9] == "all" and table["all"] == [] and len(table) == 18
    assert table["all-warm_start"][0] == "loop.warm_start=false"
    modes = {"full": ["loop.supervision=full"], **table}
    shared = donors(modes)
    assert "full" not in shared  # every other mode of the same first steps is a donor, before or after it
    assert shared["+tag_loss"][:2] == ["paper", "+class_balance"] and "all" not in shared["+tag_loss"]
    assert shared["all"][0] == "+cam_refinement" and "all" not in shared["all"]
    assert "all-warm_start" in shared["all-tag_loss"] and "all-cam_refinement" not in shared["all-tag_loss"]
    assert "paper" in shared["all-cam_refinement"] and "+cam_refinement" not in shared["all-cam_refinement"]
    assert "all-cam_refinement" in shared["paper"]
    long = donors(modes, "bench_ablation")  # the long profile: the default profile's runs of the group first
    assert long["all"][0] == "bench_ablation/+cam_refinement" and long["all"][-1] == "all-colour_jitter"
    assert "bench_ablation/all" in long["all"] and "bench_ablation/paper" not in long["all"]
    assert long["paper"][0] == "bench_ablation/paper" and "full" not in long
    with_candidates = variants(config["extensions"], candidates=config["candidates"], controls=config["controls"])
    assert with_candidates["all+keep_previous_labels"] == ["loop.keep_previous_labels=true"]  # off by default
    assert with_candidates["all+ema_teacher"] == ['++loop.variant.segmenter=["callbacks=ema"]']
    assert with_candidates["all+fresh_start"] == [
        "loop.warm_start=false",
        'loop.rounds.2.segmenter=["trainer.max_epochs=20"]',
    ]
    # a control on full supervision: its overrides over the full reference, sharing no steps
    jitter = '++loop.variant.segmenter=["data.colour_jitter=0.4"]'
    assert with_candidates["full+colour_jitter"] == ["loop.supervision=full", jitter]
    assert "full+colour_jitter" not in donors(with_candidates)

    def steps_of(overrides):
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            cfg = compose(config_name="train", overrides=["loop.tolerance=null", *overrides])
            steps = Steps(cfg, tmp_path, "synthetic", record=None)
            run = [f"paths.output_dir={tmp_path}", "logger=csv"]
            seg = steps.compose("train", [*run, "stage=segmenter", *steps.overrides("segmenter", 2)], tmp_path)
            clf = steps.compose("train", [*run, "stage=classifier", *steps.overrides("classifier")], tmp_path)
        return cfg.loop, seg, clf

    loop, seg, clf = steps_of(table["paper"])
    assert loop.tolerance is None and loop.keep_previous_labels is False and loop.warm_start is False
    assert loop.score_thresh is None
    assert seg.model.tag_weight == 0 and seg.data.tag_crop_size is None and seg.model.class_balance is False
    assert seg.model.crf is None and seg.model.thing_area == 0 and seg.model.nms_kernel == 7
    assert seg.trainer.max_epochs == 20  # a fresh start every round: round 1's length
    assert clf.model.cam_crf is None and clf.model.cam_superpixels is None and clf.trainer.max_epochs == 2
    assert seg.data.colour_jitter == 0
    loop, seg, clf = steps_of(table["+tag_loss"])
    assert seg.model.tag_weight == 10 and list(seg.data.tag_crop_size) == [50, 63]
    assert seg.model.class_balance is False and loop.warm_start is False
    loop, seg, clf = steps_of(table["+warm_start"])
    assert loop.warm_start is True and seg.trainer.max_epochs == 5  # the rounds' own overrides apply
    loop, seg, clf = steps_of(table["all-tag_loss"])
    assert seg.model.tag_weight == 0 and seg.model.class_balance is True and loop.warm_start is True
    assert clf.model.cam_crf is not None
    loop, seg, clf = steps_of(table["all"])
    assert seg.model.class_balance is True and seg.model.crf is not None and loop.score_thresh == "auto"
    assert seg.callbacks.ema is None and seg.data.colour_jitter == 0.4  # the weak loop's pseudo-GT steps
    loop, seg, clf = steps_of(table["all-colour_jitter"])
    assert seg.data.colour_jitter == 0 and seg.model.class_balance is True
    loop, seg, clf = steps_of(with_candidates["all+ema_teacher"])
    assert seg.callbacks.ema.decay == 0.99 and seg.callbacks.model_checkpoint.filename == "last"
    loop, seg, clf = steps_of(with_candidates["all+cutmix"])
    assert seg.data.cutmix == 0.5 and seg.data.colour_jitter == 0.4 and table["all"] == []
    loop, seg, clf = steps_of(with_candidates["full+cutmix"])
    assert seg.data.cutmix == 0.5 and seg.data.colour_jitter == 0 and loop.supervision == "full"
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for name, expected in (("all", False), ("all+confidence_weights", True)):
            overrides = (table if name == "all" else with_candidates)[name]
            cfg = compose(config_name="train", overrides=["loop.tolerance=null", *overrides])
            steps = Steps(cfg, tmp_path, "synthetic", record=None)
            assert steps.confidence_weights(1) == [] and cfg.loop.score_thresh == (0 if expected else "auto")
            scores = [f"data.label_scores={tmp_path / 'round_1/pred/pred_flat_feat'}"]
            weights = [*scores, "data.label_score_template=%s_leftImg8bit.mat"]
            assert steps.confidence_weights(2) == (weights if expected else [])
        seg = steps.compose("train", [f"paths.output_dir={tmp_path}", "stage=segmenter", *weights], tmp_path)
        assert seg.data.label_scores == str(tmp_path / "round_1/pred/pred_flat_feat")
    loop, seg, clf = steps_of(with_candidates["all+stuff_tags"])
    assert seg.model.tag_classes == "stuff" and seg.model.tag_weight == 10 and seg.data.colour_jitter == 0.4
    assert steps_of(table["all"])[1].model.tag_classes == "all"
    loop, seg, clf = steps_of(["loop.supervision=full"])
    assert seg.data.colour_jitter == 0  # full supervision learns from no pseudo-GT
    loop, seg, clf = steps_of(with_candidates["full+colour_jitter"])
    assert seg.data.colour_jitter == 0.4 and loop.supervision == "full"


def with_profile_of(profile: str) -> list[str]:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_loop import MODES, with_profile

    return with_profile(MODES["full"], profile)


def test_camvid_gpu_schedule_reaches_every_step(tmp_path):
    """experiment=camvid_gpu: the loop's steps as the driver composes them run on the GPU, the
    segmenter on whole 360x480 images with the longer rounds, the CPU tools in worker processes."""
    from wsps.loop.steps import Steps

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["experiment=camvid_gpu", "loop.supervision=full"])
        steps = Steps(cfg, tmp_path, "camvid", record=None)

        def step(config_name, step, k=None, *first):
            run = [f"paths.output_dir={tmp_path}", "logger=csv"] if config_name == "train" else []  # as plan()
            return steps.compose(config_name, [*run, *first, *steps.overrides(step, k)], tmp_path / f"{step}_{k}")

        assert cfg.loop.max_rounds == 4 and cfg.dataset_name == "camvid"
        segmenter = {k: step("train", "segmenter", k, "stage=segmenter") for k in (1, 2, 4)}
        assert {k: c.trainer.max_epochs for k, c in segmenter.items()} == {1: 120, 2: 40, 4: 40}
        seg = segmenter[1]
        assert seg.trainer.accelerator == "gpu" and list(seg.data.crop_size) == [360, 480]
        assert seg.data.num_workers == 8 and seg.model.class_names[-1] == "bicyclist"
        clf = step("train", "classifier", None, "stage=classifier")
        assert clf.trainer.accelerator == "gpu" and clf.trainer.max_epochs == 10 and clf.model.input_scale == 1
        assert clf.data.superpixels_in_loader and clf.data.superpixels == clf.model.cam_superpixels
        assert all(
            step(name, name.replace("generate_gt", "gt")).num_workers == 8
            for name in ("prepare", "cues", "generate_gt")
        )


def test_a_splits_files_follow_its_datasets_layout():
    """conf/split/ holds no folder names: a dataset kept in another layout moves every split's
    files with it, and each stays an option of its own."""
    layout = ["++label_folder=labels", "++list_template=ids/%s.txt", "++split_label_folders={train_extra: coarse}"]
    cfg = _compose("generate_gt", ["split=val", *layout])
    assert (cfg["gt_kind"], cfg["list_path"], cfg["annotation_dir"], cfg["gt_label_dir"], cfg["gt_label_template"]) == (
        "labels",
        "ids/val.txt",
        "labels_bboxes/val/panoptic",
        "labels/val",
        "%s_labels_labelTrainIds.png",
    )
    cfg = _compose("prepare", ["split=train_extra", *layout, "gt_label_dir=elsewhere"])
    assert (cfg["gt_kind"], cfg["list_path"], cfg["gt_label_dir"]) == ("coarse", "ids/train_extra.txt", "elsewhere")


def test_options_are_built_typed_and_refused_by_name():
    from dataclasses import dataclass

    from wsps.options import build_options

    @dataclass(frozen=True)
    class Options:
        size: tuple[int, int]
        classes: tuple[int, ...]
        rate: float
        flag: bool
        root: Path
        prior: str | None
        folder: str = "gtFine"

    built = build_options(
        Options, {"size": ["4", 5], "classes": [1, "2"], "rate": "0.5", "flag": True, "prior": None}, root=Path("/r")
    )
    assert built == Options((4, 5), (1, 2), 0.5, True, Path("/r"), None, "gtFine")
    good = {"size": [4, 5], "classes": [], "rate": 1, "flag": False, "root": "r", "prior": "p"}
    with pytest.raises(ConfigError, match="missing options: rate, flag"):
        build_options(Options, {"size": [4, 5], "classes": [], "root": "r", "prior": None})
    with pytest.raises(ConfigError, match="flag must be true or false, got 'yes'"):
        build_options(Options, {**good, "flag": "yes"})
    with pytest.raises(ConfigError, match=r"malformed option value: size=\[4, 5, 6\]"):
        build_options(Options, {**good, "size": [4, 5, 6]})
    with pytest.raises(ConfigError, match="malformed option value: rate='fast'"):
        build_options(Options, {**good, "rate": "fast"})


def test_generate_gt_takes_the_dataset_facts_from_the_description():
    """The options generate_gt repeats under the reference's names are the dataset
    description's, checked by it."""
    from wsps.data.metadata import gt_options

    opts = gt_options(_compose(overrides=["dataset=camvid"]))
    assert opts.class_names[:3] == ("sky", "building", "pole") and len(opts.class_names) == 11
    assert (opts.thing_classes, opts.stuff_classes, opts.canvas_size) == ((8, 9, 10), tuple(range(8)), (360, 480))
    with pytest.raises(ConfigError, match=r"stuff_classes \[0, 1\] must be the classes that are not things"):
        gt_options({**_compose(overrides=["dataset=camvid"]), "stuff_classes": [0, 1]})
