"""Named random streams: the permanent layout of every random number tfrsim draws.

The layout, in one place (changing any of it changes every result):

1. **Stage streams.** Every stochastic stage draws from its own stream, derived from
   ``(stream id, replicate, block, root seed)`` with :class:`numpy.random.SeedSequence`
   (``spawn_key = (STREAMS[name], replicate, block)``).
2. **Decision streams.** Inside a stage, each random decision draws from its own child
   of the stage stream (:func:`named_children`, children in a permanent order listed
   by the stage: :data:`tfrsim.cohort.sample.COHORT_DECISIONS`; the disease models
   spawn children for clone counts, per-clone draws and residual levels).
3. **Blocks.** Patients are simulated in blocks of :data:`BLOCK_SIZE`; each block has
   its own streams.

Consequences:

* changing one stage (say the visit schedule) leaves the draws of every other stage
  identical, so two scenarios differ only where they should (common random numbers);
* patients are simulated in blocks of :data:`BLOCK_SIZE`, each block with its own
  streams, so results do not depend on how blocks are grouped, ordered or spread
  over workers, and a cohort of ``n`` patients is the first ``n`` of any larger one.

Stream ids and the block size are permanent: changing either changes every result.
"""

import numpy as np

#: Permanent ids of the random streams. Never renumber; only append.
STREAMS: dict[str, int] = {
    "cohort": 1,
    "disease": 2,
    "follow_up": 3,
    "schedule": 4,
    "assay": 5,
    # Which stored parameter draw a replicate or prediction uses (tfrsim.draws).
    "posterior": 6,
}

#: Patients per random block (permanent, see module docstring).
BLOCK_SIZE: int = 10_000


def stream(name: str, *, seed: int, replicate: int, block: int = 0) -> np.random.Generator:
    """Return the generator of one named stream.

    Parameters
    ----------
    name : str
        Stream name, a key of :data:`STREAMS`.
    seed : int
        Root seed of the study (>= 0).
    replicate : int
        Replicate number (>= 0).
    block : int, default 0
        Index of the block of :data:`BLOCK_SIZE` patients.

    Returns
    -------
    numpy.random.Generator
        A PCG64 generator; equal arguments give identical draws.
    """
    if name not in STREAMS:
        raise KeyError(f"unknown random stream {name!r}; valid streams: {sorted(STREAMS)}")
    seq = np.random.SeedSequence(entropy=seed, spawn_key=(STREAMS[name], replicate, block))
    return np.random.Generator(np.random.PCG64(seq))


def named_children(
    rng: np.random.Generator, names: tuple[str, ...]
) -> dict[str, np.random.Generator]:
    """One independent child generator per named decision.

    Children are spawned from ``rng``'s seed sequence in the order of ``names``; child
    ``k`` depends only on ``rng``'s seed and ``k``, so appending a name leaves the
    earlier children's draws unchanged. Call once per fresh ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        A stage stream from :func:`stream` (fresh: nothing spawned from it yet).
    names : tuple of str
        Decision names in their permanent order (unique).

    Returns
    -------
    dict of str to numpy.random.Generator
    """
    if len(set(names)) != len(names):
        raise ValueError(f"decision names must be unique; got {names}")
    return dict(zip(names, rng.spawn(len(names)), strict=True))


def blocks(n_patients: int) -> list[tuple[int, int, int]]:
    """Split ``n_patients`` into random blocks.

    Returns
    -------
    list of (block, start, stop)
        Block index and the half-open range of patient indices it covers.
    """
    return [
        (b, start, min(start + BLOCK_SIZE, n_patients))
        for b, start in enumerate(range(0, n_patients, BLOCK_SIZE))
    ]
