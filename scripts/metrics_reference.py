#!/usr/bin/env python3
"""Reference numbers for test/eval/test_metrics.cpp, from scikit-learn and scipy.

The C++ metrics (bert/eval/metrics.cpp) must agree with the libraries people publish numbers
with, so the test hard-codes what this script prints for a few fixed label vectors: accuracy,
per-class and averaged precision/recall/F1, binary F1, Matthews correlation and the confusion
matrix from scikit-learn; multi-label subset accuracy, Hamming loss and micro/macro/weighted/samples
averages from scikit-learn; MSE from scikit-learn, Pearson and Spearman from scipy.stats. The
vectors below are copied verbatim into the test; change both together.

For the entity cases it also prints seqeval's numbers (default mode, which reimplements
conlleval) when seqeval is importable; it is not in the project's venv, so run e.g.
    pip install --target /tmp/seqeval seqeval && PYTHONPATH=/tmp/seqeval .venv/bin/python ...
(seqeval 1.2.2 gave the entity numbers hard-coded in the test.)

Run from the repository root:  .venv/bin/python scripts/metrics_reference.py
"""
import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn import metrics

CLASSIFICATION = {
    # name: (gold ids, predicted ids, number of class names)
    "binary": ([0, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0],
               [0, 1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1], 2),
    "three_class": ([0, 1, 2, 2, 1, 0, 2, 1, 0, 2, 2, 1, 0, 0, 2],
                    [0, 2, 2, 1, 1, 0, 2, 0, 0, 2, 1, 1, 2, 2, 2], 3),
    # class 2 is never predicted (precision 0 by zero_division), class 3 occurs nowhere (left out
    # of the macro average, as sklearn does without labels=).
    "absent_classes": ([0, 1, 2, 2, 0, 1, 0, 2],
                       [0, 1, 1, 1, 0, 0, 0, 1], 4),
}

REGRESSION = {
    # gold has ties (1.2, 2.5), predictions have a tie (2.0)
    "scores": ([0.0, 1.2, 2.5, 2.5, 3.8, 4.0, 5.0, 1.2, 3.0, 0.6],
               [0.3, 1.0, 2.9, 2.2, 3.1, 4.5, 4.8, 2.0, 2.0, 0.1]),
}

MULTILABEL = {
    # name: (gold label sets, predicted label sets, number of label names). Rows with no label on
    # one side or both (rows 3, 6, 9) exercise the zero divisions; label 3 occurs nowhere.
    "sets": ([[0, 1], [2], [], [0], [1, 2], [], [0, 2], [1], [], [0, 1, 2]],
             [[0], [2], [1], [0, 1], [1, 2], [], [2], [], [], [0, 1]], 4),
}

TAGGING = {
    # name: (gold sentences, predicted sentences)
    "bio": ([["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"],
             ["O", "B-MISC", "I-MISC", "O", "B-PER"],
             ["B-PER", "I-PER", "I-PER", "O"]],
            [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "O"],
             ["O", "B-MISC", "I-MISC", "O", "I-PER"],
             ["B-PER", "I-LOC", "I-PER", "O"]]),
    "iob1": ([["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-LOC", "I-ORG"]],
             [["I-PER", "I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]]),
}


def p(name, value):
    print(f"{name} = {float(value)!r}")


def main():
    print(f"# scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, numpy {np.__version__}")
    for name, (gold, pred, k) in CLASSIFICATION.items():
        print(f"\n[{name}]")
        labels = list(range(k))
        p("accuracy", metrics.accuracy_score(gold, pred))
        for avg in ("macro", "weighted"):
            pr, rc, f1, _ = metrics.precision_recall_fscore_support(gold, pred, average=avg, zero_division=0)
            p(f"{avg}_precision", pr)
            p(f"{avg}_recall", rc)
            p(f"{avg}_f1", f1)
        pr, rc, f1, sup = metrics.precision_recall_fscore_support(gold, pred, labels=labels, average=None,
                                                                  zero_division=0)
        print("per_class_precision =", [float(x) for x in pr])
        print("per_class_recall =", [float(x) for x in rc])
        print("per_class_f1 =", [float(x) for x in f1])
        print("support =", [int(x) for x in sup])
        if k == 2:
            p("binary_precision", metrics.precision_score(gold, pred, pos_label=1))
            p("binary_recall", metrics.recall_score(gold, pred, pos_label=1))
            p("binary_f1", metrics.f1_score(gold, pred, pos_label=1))
        p("mcc", metrics.matthews_corrcoef(gold, pred))
        print("confusion =", metrics.confusion_matrix(gold, pred, labels=labels).tolist())

    for name, (gold, pred, k) in MULTILABEL.items():
        print(f"\n[{name}] (multi-label)")
        y_true = np.zeros((len(gold), k), dtype=int)
        y_pred = np.zeros((len(pred), k), dtype=int)
        for i, (g, q) in enumerate(zip(gold, pred)):
            y_true[i, g] = 1
            y_pred[i, q] = 1
        p("subset_accuracy", metrics.accuracy_score(y_true, y_pred))
        p("hamming_loss", metrics.hamming_loss(y_true, y_pred))
        for avg in ("micro", "macro", "weighted", "samples"):
            pr, rc, f1, _ = metrics.precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
            p(f"{avg}_precision", pr)
            p(f"{avg}_recall", rc)
            p(f"{avg}_f1", f1)
        pr, rc, f1, sup = metrics.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
        print("per_label_precision =", [float(x) for x in pr])
        print("per_label_recall =", [float(x) for x in rc])
        print("per_label_f1 =", [float(x) for x in f1])
        print("support =", [int(x) for x in sup])

    for name, (gold, pred) in REGRESSION.items():
        print(f"\n[{name}]")
        p("mse", metrics.mean_squared_error(gold, pred))
        p("pearson", scipy.stats.pearsonr(gold, pred)[0])
        p("spearman", scipy.stats.spearmanr(gold, pred)[0])
        print("gold_ranks =", [float(x) for x in scipy.stats.rankdata(gold, method="average")])

    try:
        import seqeval.metrics as sm
    except ImportError:
        print("\n# seqeval not importable: entity cases skipped")
        return
    for name, (gold, pred) in TAGGING.items():
        print(f"\n[{name}] (seqeval default mode = conlleval)")
        p("entity_precision", sm.precision_score(gold, pred))
        p("entity_recall", sm.recall_score(gold, pred))
        p("entity_f1", sm.f1_score(gold, pred))
        p("token_accuracy", sm.accuracy_score(gold, pred))
        print(sm.classification_report(gold, pred, digits=6, zero_division=0))


if __name__ == "__main__":
    main()
