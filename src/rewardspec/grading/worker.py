"""The SymPy helper process (``python -m rewardspec.grading.worker``): see :mod:`rewardspec.grading.deadline`."""

from rewardspec.grading.deadline import serve

if __name__ == "__main__":
    serve()
