"""The bias-transfer benchmark's library: data, models, training, measurement and judging.

Glossary (one word per concept; docstrings use these):

claim
    A statement of the paper, e.g. "fixed-feature transfer from a triggered source has a higher ASR"
    (Fig. 1). One module of ``cases/`` states one claim; the module's name is the claim's id.
case
    The pytest module that states a claim (``cases/test_<claim>.py``); results and baselines are
    filed by its name, so *case* and *claim* name the same thing from the file's and the paper's side.
check
    One test function of a case, for one parametrization (target, mode, probe): a per-seed measurement
    and the inequality it must satisfy. A check is judged, holds or does not hold.
seed
    One independent draw of every model and split a measurement uses; a check's value is one number per seed.
look
    A seed count at which the design judges a check (3, 5, 8, ... 30); between looks no verdict is taken.
design
    The group-sequential one-sided t-test of ``sequential``: its looks and its efficacy and futility
    bounds (or a fixed-sample test with ``--bt-seeds N``).
source
    The model pre-trained on the source data (ImageNet, or the mini source), clean or biased
    (a planted trigger, a skewed split); or a user's own weights in an audit.
target
    The downstream dataset a source is transferred to; its test set is where a bias is measured.
transfer mode
    How a source is fine-tuned on a target: *fixed-feature* (backbone frozen, a new head; run as
    ``fixed``, or as *linear-probe*, a head fitted on extracted features, where the scale says so),
    *full* (every weight fine-tuned) and *scratch* (the same architecture trained on the target alone).
probe
    A test-time overlay applied to every test image to read a model's reaction: the planted *trigger*
    or a *stencil* (an RGBA object image such as the tennis ball).
intervention
    A probe that is not the planted trigger: a stencil the source may have tied to one of its classes
    (Fig. 7/8). The scale's ``interventions`` are its probes less the trigger.
scrambled control
    A stencil's own pixels permuted over its square: the same colours and coverage with no object, whose
    shift the audit's feature check subtracts.
family
    A model less its seed (what it is: source or transfer, data, mode, architecture), a typed key
    (``families``) whose text the records keep; progress, the timing file and the cache's build
    records group models by family.
observer
    What watches the events of checks and builds (``events``): the display, the time by phase, the
    timing file (``baselines/<scale>/timing.json``: build seconds, apart from the baselines).
plan
    The models the checks need at a look, named before any is built (``plan``).
need
    One entry of a plan: a model to build (or only to predict with, if cached) and the needs it reads.
wave
    The needs of a plan that can be built together: sources first, then the transfers that read them.
executor
    What builds a plan's needs: inline in the pytest process, local processes, or Slurm jobs (``executors``).
baseline
    A check's per-seed values recorded by the suite itself, with provenance (``baselines/<scale>/``); a
    run fails a check whose mean drifts from it.
scale
    The data, architecture and budget a run uses (``config``): ``mini``, ``paper`` or ``paper-smoke``.
"""
