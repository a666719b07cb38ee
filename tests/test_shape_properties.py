"""Property-based tests of shape inference (hypothesis).

Each test draws a layer configuration: input sizes (each declared or None),
the layer's arguments, sometimes invalid ones. For every configuration the
constructor accepts, the declared output shape equals the shape computed on
random inputs (FAST_COMPILE) and the one ``get_output_shape`` gives for the
concrete input shapes (via :func:`tests.helpers.check_layer`). For every
configuration it refuses, the error is a ValueError or TypeError whose
message names the offending argument; a configuration the test knows to be
invalid must be refused.

Examples are derandomized (CI is reproducible); ``EXAMPLES`` gives the count
per test and :data:`TOTAL_EXAMPLES` their sum.
"""
import numpy as np
import pytensor.tensor as pt
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import lasagne.layers as L
from tests.helpers import check_layer, random_array

N = 2

#: hypothesis examples per test (the sum is stated in the report).
EXAMPLES = {"pool": 300, "upscale": 100, "reshape": 200, "pad": 150,
            "slice": 150, "concat": 150, "elemwise": 150, "dimshuffle": 150,
            "recurrent": 100, "conv": 60}
TOTAL_EXAMPLES = sum(EXAMPLES.values())


def examples(family):
    return settings(max_examples=EXAMPLES[family], deadline=None,
                    derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


# ------------------------------------------------------------ strategies

@st.composite
def sizes(draw, ndim, low=1, high=6):
    """Concrete sizes and the declared shape (each dim known or None; the
    batch dim N or None)."""
    actual = [N] + [draw(st.integers(low, high)) for _ in range(ndim - 1)]
    declared = [s if draw(st.booleans()) else None for s in actual]
    return tuple(actual), tuple(declared)


def mostly(valid, invalid):
    """Draws from `valid` about five times in six."""
    # (one_of would merge the repeated branches into one)
    return st.sampled_from([True] * 5 + [False]).flatmap(
        lambda ok: valid if ok else invalid)


def int_or_tuple(n, low, high, invalid_below=None):
    """An int, or a tuple of n ints (sometimes of the wrong length); values
    below `invalid_below` are drawn about one time in six."""
    ints = st.integers(low, high)
    if invalid_below is not None:
        ints = mostly(st.integers(invalid_below, high), st.integers(low, high))
    return mostly(st.one_of(ints, st.tuples(*[ints] * n)),
                  st.tuples(*[ints] * (n + 1)))


def as_list(v, n):
    return list(v) if isinstance(v, tuple) else [v] * n


# ------------------------------------------------------------ checking

def attempt(make, bad, arguments, also=()):
    """Build a layer. A refusal must be a ValueError/TypeError naming one of
    the `bad` arguments (the ones the test knows to be invalid) or of `also`
    (arguments in an invalid combination, which may be reported first), or
    one of `arguments` when the test knows none to be invalid (a
    combination was refused). Returns the layer, or None when refused."""
    try:
        layer = make()
    except (ValueError, TypeError) as e:
        names = sorted(bad) + list(also) if bad else arguments
        event("refused")
        assert any(n in str(e) for n in names), \
            f"{type(e).__name__}({str(e)!r}) names none of {names}"
        return None
    assert not bad, f"accepted although {sorted(bad)} are invalid"
    event("accepted")
    return layer


def check_shapes(layer, inputs):
    """inputs: list of (InputLayer, concrete shape)."""
    values = {l: random_array(s, seed=i) for i, (l, s) in enumerate(inputs)}
    check_layer(layer, values)
    event("shapes checked")


def input_layer(declared):
    return L.InputLayer(declared)


# ------------------------------------------------------------ pool / upscale

POOL_CLASSES = {1: (L.Pool1DLayer, L.MaxPool1DLayer),
                2: (L.Pool2DLayer, L.MaxPool2DLayer),
                3: (L.Pool3DLayer, L.MaxPool3DLayer)}


@st.composite
def pool_configs(draw):
    nd = draw(st.integers(1, 3))
    actual, declared = draw(sizes(nd + 2, high=7 if nd < 3 else 4))
    kwargs = {"pool_size": draw(int_or_tuple(nd, -1, 4, invalid_below=1)),
              "stride": draw(st.one_of(st.none(), int_or_tuple(
                  nd, 0, 3, invalid_below=1))),
              # pad < pool_size and pad with ignore_border=True are
              # required: draw mostly combinations that can be built
              "pad": draw(st.one_of(st.just(0), st.just(0), int_or_tuple(
                  nd, -1, 2, invalid_below=0))),
              "ignore_border": draw(mostly(st.just(True), st.just(False)))}
    cls = draw(st.sampled_from(POOL_CLASSES[nd]))
    if cls.__name__.startswith("Pool"):
        kwargs["mode"] = draw(st.sampled_from(
            ["max", "average_inc_pad", "average_exc_pad"] * 3 + ["avg"]))
    return nd, cls, actual, declared, kwargs


@examples("pool")
@given(pool_configs())
def test_pool_shapes(config):
    nd, cls, actual, declared, kwargs = config
    bad = set()
    for arg, low in (("pool_size", 1), ("stride", 1), ("pad", 0)):
        v = kwargs[arg]
        if v is None:
            continue
        if (isinstance(v, tuple) and len(v) != nd) or min(as_list(v, nd)) < low:
            bad.add(arg)
    if kwargs.get("mode") == "avg":
        bad.add("mode")
    # combinations refused before single values may be reported first
    pads = as_list(kwargs["pad"], nd)
    also = ()
    if len(pads) == nd and (any(pads) and not kwargs["ignore_border"] or any(
            p >= q for p, q in zip(pads, as_list(kwargs["pool_size"], nd)))):
        also = ("pad", "pool_size", "ignore_border")
    l_in = input_layer(declared)
    layer = attempt(lambda: cls(l_in, **kwargs), bad,
                    list(kwargs) + ["input"], also)
    if layer is not None:
        check_shapes(layer, [(l_in, actual)])


@examples("upscale")
@given(st.integers(1, 3).flatmap(lambda nd: st.tuples(
    st.just(nd), sizes(nd + 2, high=4), int_or_tuple(nd, 0, 3, invalid_below=1),
    st.sampled_from(["repeat", "dilate", "nearest"] * 3 + ["bicubic"]))))
def test_upscale_shapes(config):
    nd, (actual, declared), scale, mode = config
    cls = {1: L.Upscale1DLayer, 2: L.Upscale2DLayer, 3: L.Upscale3DLayer}[nd]
    bad = set()
    if (isinstance(scale, tuple) and len(scale) != nd) or min(as_list(scale, nd)) < 1:
        bad.add("scale_factor")
    if mode == "bicubic":
        bad.add("mode")
    l_in = input_layer(declared)
    layer = attempt(lambda: cls(l_in, scale, mode=mode), bad,
                    ["scale_factor", "mode"])
    if layer is not None:
        check_shapes(layer, [(l_in, actual)])


# ------------------------------------------------------------ shape layers

@st.composite
def reshape_configs(draw):
    ndim = draw(st.integers(1, 4))
    actual, declared = draw(sizes(ndim, high=4))
    total = int(np.prod(actual))
    # mostly a valid target: a factorisation of the input size, entries
    # replaced by [i] references (to equal dims) or one -1
    target, left = [], total
    for i in range(draw(st.integers(0, 3))):
        divisors = [d for d in range(1, left + 1) if left % d == 0]
        d = draw(st.sampled_from(divisors))
        target.append(d)
        left //= d
    target.append(left)
    target = draw(st.permutations(target))
    spec = []
    for t in target:
        refs = [[i] for i, s in enumerate(actual) if s == t]
        choice = draw(st.sampled_from(["int", "ref", "minus", "junk"]))
        if choice == "ref" and refs:
            spec.append(draw(st.sampled_from(refs)))
        elif choice == "minus" and -1 not in spec:
            spec.append(-1)
        elif choice == "junk":
            spec.append(draw(st.sampled_from([0, -2, [ndim], "3", t + 1])))
        else:
            spec.append(t)
    return actual, declared, tuple(spec)


@examples("reshape")
@given(reshape_configs())
def test_reshape_shapes(config):
    actual, declared, spec = config
    bad = set()
    for s in spec:
        if (isinstance(s, str) or (isinstance(s, int) and (s == 0 or s < -1))
                or (isinstance(s, list) and s[0] >= len(actual))):
            bad.add("shape")
    l_in = input_layer(declared)
    layer = attempt(lambda: L.ReshapeLayer(l_in, spec), bad, ["shape"])
    if layer is None:
        return
    target = [actual[s[0]] if isinstance(s, list) else s for s in spec]
    known = int(np.prod([t for t in target if t != -1]))
    if -1 in target:
        fits = np.prod(actual) % known == 0
    else:
        fits = known == np.prod(actual)
    if not fits:
        # only refusable when every size involved is declared
        assert None in declared, f"accepted {spec} for {declared}"
        return
    check_shapes(layer, [(l_in, actual)])


@examples("pad")
@given(st.integers(1, 4).flatmap(lambda ndim: st.tuples(
    sizes(ndim, high=3), st.integers(-1, 3),
    st.one_of(st.integers(-1, 2), st.lists(st.one_of(
        st.integers(-1, 2), st.tuples(st.integers(-1, 2), st.integers(0, 2))),
        min_size=0, max_size=4).map(tuple)))))
def test_pad_shapes(config):
    (actual, declared), batch_ndim, width = config
    ndim = len(actual)
    bad = set()
    if not 0 <= batch_ndim < ndim:
        bad.add("batch_ndim")
    else:
        n_pad = ndim - batch_ndim
        entries = list(width) if isinstance(width, tuple) else [width]
        flat = [v for e in entries for v in (e if isinstance(e, tuple) else (e,))]
        if isinstance(width, tuple) and len(width) > n_pad:  # fewer: leading dims
            bad.add("width")
        if any(v < 0 for v in flat):
            bad.add("width")
    l_in = input_layer(declared)
    layer = attempt(lambda: L.PadLayer(l_in, width, batch_ndim=batch_ndim), bad,
                    ["width", "batch_ndim"])
    if layer is not None:
        check_shapes(layer, [(l_in, actual)])


@examples("slice")
@given(st.integers(1, 4).flatmap(lambda ndim: st.tuples(
    sizes(ndim, high=5), st.integers(-ndim - 1, ndim),
    st.one_of(st.integers(-6, 5), st.builds(
        slice, st.one_of(st.none(), st.integers(-6, 6)),
        st.one_of(st.none(), st.integers(-6, 6)),
        st.one_of(st.none(), st.integers(-2, 3)))))))
def test_slice_shapes(config):
    (actual, declared), axis, indices = config
    ndim = len(actual)
    bad = set()
    if not -ndim <= axis < ndim:
        bad.add("axis")
    elif isinstance(indices, int):
        size = declared[axis]
        if size is not None and not -size <= indices < size:
            bad.add("indices")
    elif indices.step == 0:
        bad.add("indices")
    l_in = input_layer(declared)
    layer = attempt(lambda: L.SliceLayer(l_in, indices, axis=axis), bad,
                    ["indices", "axis"])
    if layer is None:
        return
    if isinstance(indices, int) and not -actual[axis] <= indices < actual[axis]:
        return  # out of range for an undeclared size: fails at run time only
    check_shapes(layer, [(l_in, actual)])


@st.composite
def dimshuffle_configs(draw):
    ndim = draw(st.integers(1, 4))
    actual, declared = draw(sizes(ndim, low=1, high=3))
    kept = draw(st.permutations(range(ndim)))
    kept = kept[:draw(st.integers(max(0, ndim - 2), ndim))]
    pattern = list(kept)
    for _ in range(draw(st.integers(0, 2))):
        pattern.insert(draw(st.integers(0, len(pattern))), "x")
    junk = draw(st.sampled_from([None, None, None, "dup", "range", "y"]))
    if junk == "dup" and kept:
        pattern.append(kept[0])
    elif junk == "range":
        pattern.append(ndim)
    elif junk == "y":
        pattern.append("y")
    return actual, declared, tuple(pattern), junk, kept


@examples("dimshuffle")
@given(dimshuffle_configs())
def test_dimshuffle_shapes(config):
    actual, declared, pattern, junk, kept = config
    dropped = [i for i in range(len(actual)) if i not in kept]
    bad = set()
    if (junk == "dup" and kept) or junk in ("range", "y") or any(
            declared[i] not in (1, None) for i in dropped):
        bad.add("pattern")
    l_in = input_layer(declared)
    layer = attempt(lambda: L.DimshuffleLayer(l_in, pattern), bad, ["pattern"])
    if layer is None:
        return
    if any(actual[i] != 1 for i in dropped):
        # an undeclared size cannot be checked before run time
        with pytest.raises(Exception):
            check_shapes(layer, [(l_in, actual)])
        return
    check_shapes(layer, [(l_in, actual)])


# ------------------------------------------------------------ merge

@st.composite
def merge_configs(draw, max_inputs=3):
    ndim = draw(st.integers(1, 4))
    n = draw(st.integers(1, max_inputs))
    base = [N] + [draw(st.integers(1, 4)) for _ in range(ndim - 1)]
    shapes = []
    for _ in range(n):
        shape = [s if draw(st.integers(0, 3)) else draw(st.integers(1, 4))
                 for s in base]
        shape[0] = N
        declared = tuple(s if draw(st.integers(0, 3)) else None for s in shape)
        shapes.append((tuple(shape), declared))
    cropping = draw(st.one_of(st.none(), st.lists(
        st.sampled_from([None, "lower", "upper", "center", "middle"]),
        min_size=0, max_size=ndim).map(list)))
    return ndim, shapes, cropping


def _crop_bad(cropping):
    return cropping is not None and "middle" in cropping


def _cropped(shapes, cropping, skip_axis=None):
    """Concrete shapes after cropping; None if they still differ."""
    ndim = len(shapes[0])
    result = [list(s) for s in shapes]
    for axis in range(ndim):
        c = cropping[axis] if cropping and axis < len(cropping) else None
        if c is not None and axis != skip_axis:
            m = min(s[axis] for s in shapes)
            for r in result:
                r[axis] = m
    return result


@examples("concat")
@given(merge_configs(), st.integers(-5, 4))
def test_concat_shapes(config, axis):
    ndim, shapes, cropping = config
    layers = [input_layer(d) for _, d in shapes]
    bad = set()
    if not -ndim <= axis < ndim:
        bad.add("axis")
    if _crop_bad(cropping):
        bad.add("cropping")
    arguments = ["axis", "cropping", "incomings", "input_shapes", "shape"]
    layer = attempt(lambda: L.ConcatLayer(layers, axis=axis, cropping=cropping),
                    bad, arguments)
    if layer is None:
        return
    cropped = _cropped([s for s, _ in shapes], cropping, skip_axis=axis % ndim)
    if any(c[i] != cropped[0][i] for c in cropped for i in range(ndim)
           if i != axis % ndim):
        return  # sizes that differ but were not declared: fails at run time
    check_shapes(layer, [(l, s) for l, (s, _) in zip(layers, shapes)])


@examples("elemwise")
@given(merge_configs(), st.sampled_from(["sum", "max"]))
def test_elemwise_merge_shapes(config, kind):
    ndim, shapes, cropping = config
    layers = [input_layer(d) for _, d in shapes]
    bad = {"cropping"} if _crop_bad(cropping) else set()

    def make():
        if kind == "sum":
            return L.ElemwiseSumLayer(layers, coeffs=0.5, cropping=cropping)
        return L.ElemwiseMergeLayer(layers, pt.maximum, cropping=cropping)

    layer = attempt(make, bad, ["cropping", "incomings", "input_shapes", "shape"])
    if layer is None:
        return
    cropped = _cropped([s for s, _ in shapes], cropping)
    if any(c != cropped[0] for c in cropped):
        return  # sizes that differ but were not declared: fails at run time
    check_shapes(layer, [(l, s) for l, (s, _) in zip(layers, shapes)])


# ------------------------------------------------------------ conv

@st.composite
def conv_configs(draw):
    nd = draw(st.integers(1, 3))
    actual, declared = draw(sizes(nd + 2, high=6 if nd < 3 else 4))
    if draw(mostly(st.just(True), st.just(False))):   # channels declared
        declared = declared[:1] + actual[1:2] + declared[2:]
    transposed = nd > 1 and draw(mostly(st.just(False), st.just(True)))
    pad_arg = "crop" if transposed else "pad"
    kwargs = {"num_filters": draw(mostly(st.integers(1, 3), st.integers(-1, 0))),
              "filter_size": draw(int_or_tuple(nd, 0, 3, invalid_below=1)),
              "stride": draw(int_or_tuple(nd, 0, 2, invalid_below=1)),
              pad_arg: draw(mostly(st.one_of(
                  int_or_tuple(nd, 0, 2), st.sampled_from(
                      ["valid", "full", "same"])), st.sampled_from([-1, "half!"]))),
              "untie_biases": draw(st.booleans())}
    if not transposed:
        cls = {1: L.Conv1DLayer, 2: L.Conv2DLayer, 3: L.Conv3DLayer}[nd]
    else:
        cls = {2: L.TransposedConv2DLayer, 3: L.TransposedConv3DLayer}[nd]
    return nd, cls, actual, declared, kwargs, pad_arg


@examples("conv")
@given(conv_configs())
def test_conv_shapes(config):
    nd, cls, actual, declared, kwargs, pad_arg = config
    bad = set()
    if kwargs["num_filters"] < 1:
        bad.add("num_filters")
    for arg in ("filter_size", "stride"):
        v = kwargs[arg]
        if (isinstance(v, tuple) and len(v) != nd) or min(as_list(v, nd)) < 1:
            bad.add(arg)
    pad = kwargs[pad_arg]
    if pad in (-1, "half!") or (isinstance(pad, tuple) and len(pad) != nd):
        bad.add(pad_arg)
    if declared[1] is None:
        bad.add("input")          # the number of channels sizes W
    l_in = input_layer(declared)
    layer = attempt(lambda: cls(l_in, **kwargs), bad,
                    list(kwargs) + ["input", "output"],
                    also=("input", "filter_size", pad_arg))
    if layer is None:
        return
    if any(s is not None and s < 1 for s in layer.output_shape):
        return  # empty outputs (declared, e.g. filter larger than input)
    check_shapes(layer, [(l_in, actual)])


# ------------------------------------------------------------ recurrent

@examples("recurrent")
@given(st.sampled_from(["rnn", "lstm", "gru"]), sizes(3, high=3),
       mostly(st.integers(1, 3), st.integers(-1, 0)), st.booleans(),
       st.booleans(), st.booleans(), mostly(st.just(True), st.just(False)))
def test_recurrent_shapes(kind, shapes, num_units, only_final, backwards,
                          unroll, features_known):
    actual, declared = shapes
    if features_known:
        declared = declared[:2] + actual[2:]
    cls = {"rnn": L.RecurrentLayer, "lstm": L.LSTMLayer, "gru": L.GRULayer}[kind]
    bad = set()
    if num_units < 1:
        bad.add("num_units")
    if declared[2] is None:
        bad.add("input")          # the feature size must be known
    if unroll and declared[1] is None:
        bad.add("unroll_scan")    # unrolling needs the sequence length
    l_in = input_layer(declared)
    arguments = ["num_units", "input", "unroll_scan", "only_return_final"]
    layer = attempt(lambda: cls(l_in, num_units, only_return_final=only_final,
                                backwards=backwards, unroll_scan=unroll),
                    bad, arguments)
    if layer is not None:
        check_shapes(layer, [(l_in, actual)])


def test_example_count():
    """The count stated in the report (run with -s to see it)."""
    print(f"\nshape properties: {TOTAL_EXAMPLES} hypothesis examples "
          f"in {len(EXAMPLES)} tests")
    assert TOTAL_EXAMPLES >= 300


# ------------------------------------------------------------ regressions
# (bugs these property tests found, pinned by plain tests)

def test_transposed_conv_errors_name_crop():
    with pytest.raises(ValueError, match="`crop` must be non-negative"):
        L.TransposedConv2DLayer(L.InputLayer((None, 2, 4, 4)), 3, 2, crop=-1)


def test_slice_step_zero_is_refused():
    with pytest.raises(ValueError, match=r"`indices` slice\(None, None, 0\)"):
        L.SliceLayer(L.InputLayer((None, 4)), slice(None, None, 0))


def test_recurrent_unknown_features_is_a_value_error():
    with pytest.raises(ValueError, match="feature dimensions"):
        L.LSTMLayer(L.InputLayer((None, 3, None)), 2)
