"""What the benchmarks compute from recorded runs, kept in the package so that tests import it.

The scripts in ``benchmarks/`` run models, print tables and write JSON; the arithmetic and
the decisions behind their figures live here, over the typed samples
(:class:`rewardspec.eval.records.SampleRecord`), where tests reach them by import instead of
loading a script by its path:

* :mod:`.auroc`: how well a score separates wrong from right;
* :mod:`.draft_target_line`: rows of accuracy and cost against the line from the draft alone
  to the target alone, and a question-level cascade composed from recorded runs;
* :mod:`.candidate_specs`: the ``NAME=REWARD@DELTA[/RULE][+K]`` candidates a comparison runs;
* :mod:`.question_routes`: a route before solving, composed from recorded runs;
* :mod:`.baselines`: the evaluation problems a comparison runs on, and their single-model runs;
* :mod:`.rollout_oracle`: RSD's step-level bound, a reward that asks the target's rollouts;
* :mod:`.step_labels`: rewards measured against rollout-labelled steps;
* :mod:`.scheduling_sim`: recorded RSD answers replayed on simulated batched engines.
"""
