"""`make bench`: every figure beside its baseline from the same run, in bench/results.json and bench/results.md."""
