"""Model summary and lookup of layers by name or class."""
import pytest

import lasagne.layers
from lasagne.layers import (BatchNormLayer, ConcatLayer, DenseLayer,
                            DropoutLayer, InputLayer, count_params,
                            get_layer_by_name, get_layers_by_class, summary)


@pytest.fixture
def net():
    """in -> enc -> bn -> (dec tied to enc, head) -> concat."""
    l_in = InputLayer((None, 6), name="in")
    enc = DenseLayer(l_in, 3, name="enc")
    bn = BatchNormLayer(enc, name="bn")
    dec = DenseLayer(bn, 6, W=enc.W.T, name="dec")
    head = DenseLayer(DropoutLayer(bn), 2, b=None)
    return ConcatLayer([dec, head], name="cat")


EXPECTED = """\
#  Name  Class           Output shape  Parameters                    Count
-  ----  --------------  ------------  ----------------------------  -----
0  in    InputLayer      (None, 6)                                       0
1  enc   DenseLayer      (None, 3)     W (6, 3)                         21
                                       b (3,)
2  bn    BatchNormLayer  (None, 3)     beta (3,)                        12
                                       gamma (3,)
                                       mean (3,)
                                       inv_std (3,)
3  dec   DenseLayer      (None, 6)     enc.W (6, 3) shared with enc     24
                                       b (6,)
4        DropoutLayer    (None, 3)                                       0
5        DenseLayer      (None, 2)     W (3, 2)                          6
6  cat   ConcatLayer     (None, 8)                                       0
Total parameters: 45 (trainable: 39, non-trainable: 6)"""


class TestSummary:
    def test_exact_table(self, net):
        assert summary(net) == EXPECTED

    def test_totals_count_tied_weights_once(self, net):
        # per-layer counts add up to 63 = 45 + the 18 tied weights of dec
        assert count_params(net) == 45
        assert "Total parameters: 45 (trainable: 39, non-trainable: 6)" \
            in summary(net)

    def test_columns_aligned(self, net):
        lines = summary(net).splitlines()
        header, rule = lines[:2]
        starts = [i for i, c in enumerate(rule) if c == "-" and
                  (i == 0 or rule[i - 1] == " ")]
        assert [header[s:].split("  ")[0] for s in starts] == [
            "#", "Name", "Class", "Output shape", "Parameters", "Count"]
        layer_rows = [l for l in lines[2:-1] if l[0] != " "]
        more_params = [l for l in lines[2:-1] if l[0] == " "]
        assert len(layer_rows) == 7 and len(more_params) == 5
        # counts are right-aligned under "Count"; parameter names start
        # under "Parameters" on every line
        assert {len(l) for l in layer_rows} == {len(header)}
        params_at = starts[4]
        for line in more_params:
            assert line[:params_at].isspace() and line[params_at] != " "
        for line in layer_rows:
            assert line[params_at - 2:params_at] == "  "

    def test_input_shapes_and_several_outputs(self):
        l_in = InputLayer((None, 4), name="x")
        a = DenseLayer(l_in, 5, name="a")
        b = DenseLayer(l_in, 1, name="b")
        text = summary([a, b], input_shapes=(32, 4))
        assert text == (
            "#  Name  Class       Output shape  Parameters  Count\n"
            "-  ----  ----------  ------------  ----------  -----\n"
            "0  x     InputLayer  (32, 4)                       0\n"
            "1  a     DenseLayer  (32, 5)       W (4, 5)       25\n"
            "                                   b (5,)\n"
            "2  b     DenseLayer  (32, 1)       W (4, 1)        5\n"
            "                                   b (1,)\n"
            "Total parameters: 30 (trainable: 30, non-trainable: 0)")

    def test_large_counts_use_separators(self):
        big = DenseLayer(InputLayer((None, 1000)), 1000, name="big")
        assert "1,001,000" in summary(big).splitlines()[3]


class TestLookup:
    def test_by_name(self, net):
        assert get_layer_by_name(net, "bn") is net.input_layers[0].input_layer
        assert get_layer_by_name(net, "cat") is net
        assert get_layer_by_name([net], "in").shape == (None, 6)

    def test_missing_name_suggests_close_ones(self, net):
        with pytest.raises(KeyError) as info:
            get_layer_by_name(net, "dc")
        assert str(info.value) == (
            "get_layer_by_name: no layer named 'dc' in the graph; did you "
            "mean 'dec'? Named layers: 'in', 'enc', 'bn', 'dec', 'cat'.")

    def test_missing_name_without_close_ones(self):
        l = DenseLayer(InputLayer((None, 2)), 1)
        with pytest.raises(KeyError, match="no layer named 'conv1' in the "
                                           "graph; Named layers: none."):
            get_layer_by_name(l, "conv1")

    def test_ambiguous_name(self):
        l_in = InputLayer((None, 2))
        top = DenseLayer(DenseLayer(l_in, 3, name="fc"), 1, name="fc")
        with pytest.raises(ValueError, match=r"2 layers are named 'fc' "
                           r"\(#1 <DenseLayer 'fc'>, #2 <DenseLayer 'fc'>\)"):
            get_layer_by_name(top, "fc")

    def test_by_class(self, net):
        dense = get_layers_by_class(net, DenseLayer)
        assert [l.name for l in dense] == ["enc", "dec", None]
        assert [type(l).__name__ for l in get_layers_by_class(
            net, (InputLayer, DropoutLayer))] == ["InputLayer", "DropoutLayer"]
        assert get_layers_by_class(net, ConcatLayer) == [net]


def test_exported():
    for name in ["summary", "get_layer_by_name", "get_layers_by_class"]:
        assert name in lasagne.layers.inspect.__all__
        assert getattr(lasagne.layers, name) is getattr(
            lasagne.layers.inspect, name)
