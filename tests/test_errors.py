"""Bad input fails early with the right error type and a message that names the op, the shapes
and the fix: shape mismatches, wrong dtypes, non-scalar backward, indexing out of range and bad
axes. The assertions read the message, because the message is the feature."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import DTypeError, ShapeError, Tensor, Value


def t(*shape: int, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape), requires_grad=requires_grad)


def test_error_types_follow_python_conventions():
    assert issubclass(ShapeError, ValueError)
    assert issubclass(DTypeError, TypeError)


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "symbol"),
    [
        (lambda a, b: a + b, r"\+"),
        (lambda a, b: a - b, "-"),
        (lambda a, b: a * b, r"\*"),
        (lambda a, b: a / b, "/"),
        (lambda a, b: tl.maximum(a, b), "maximum"),
        (lambda a, b: tl.where(np.ones((2, 3), bool), a, b), "where"),
    ],
)
def test_broadcast_mismatch_names_the_op_both_shapes_and_the_rule(op, symbol):
    with pytest.raises(ShapeError, match=rf"^{symbol}: .*\(2, 3\) and \(4,\).*trailing axis"):
        op(t(2, 3), t(4))


def test_matmul_inner_dimension_mismatch_names_both_shapes_and_dimensions():
    with pytest.raises(ShapeError) as info:
        t(2, 3) @ t(4, 5)
    message = str(info.value)
    assert message.startswith("matmul:")
    assert "(2, 3) and (4, 5)" in message
    assert "inner dimensions 3 and 4" in message
    assert "transpose" in message


def test_matmul_of_vectors_of_different_lengths_raises():
    with pytest.raises(ShapeError, match=r"matmul: shapes \(2,\) and \(3,\)"):
        t(2) @ t(3)


def test_matmul_with_a_zero_dimensional_operand_suggests_multiplication():
    with pytest.raises(ShapeError, match=r"matmul: .*\(2, 3\) and \(\).*use \*"):
        t(2, 3) @ Tensor(np.float64(2.0))


def test_reshape_to_a_different_size_names_both_shapes():
    with pytest.raises(ShapeError, match=r"reshape: .*\(2, 3\) with \(4, 2\).*same number"):
        t(2, 3).reshape(4, 2)


def test_cat_mismatch_names_the_shapes_and_the_rule():
    with pytest.raises(ShapeError, match=r"cat: .*\(2, 3\) and \(2, 4\).*except along"):
        tl.cat([t(2, 3), t(2, 4)], dim=0)


def test_cat_of_nothing_raises():
    with pytest.raises(ShapeError, match="cat: needs at least one tensor"):
        tl.cat([])


def test_stack_of_different_shapes_lists_them():
    with pytest.raises(ShapeError, match=r"stack: .*\(2, 3\).*\(3,\)"):
        tl.stack([t(2, 3), t(3)])


def test_expand_of_a_non_singleton_axis_explains_the_rule():
    with pytest.raises(ShapeError, match=r"expand: .*\(2, 3\) with \(4, 3\).*size 1"):
        t(2, 3).expand(4, 3)


def test_expand_to_fewer_dimensions_raises():
    with pytest.raises(ShapeError, match=r"expand: .*\(2, 3\)"):
        t(2, 3).expand(3)


def test_permute_that_is_not_a_permutation_names_the_shape():
    with pytest.raises(ShapeError, match=r"permute: \(0, 0\) is not a permutation.*\(2, 3\)"):
        t(2, 3).permute(0, 0)


def test_split_sections_that_do_not_add_up_raise():
    with pytest.raises(ShapeError, match=r"split: sections \[1, 1\] do not add up to 3"):
        tl.split(t(3), [1, 1])


def test_pad_with_negative_widths_raises():
    with pytest.raises(ShapeError, match="pad: negative padding"):
        tl.pad(t(3), (-1, 0))


def test_assigning_a_grad_of_the_wrong_shape_raises():
    x = t(2, 3, requires_grad=True)
    with pytest.raises(ShapeError, match=r"grad: .*\(3,\).*\(2, 3\)"):
        x.grad = np.zeros(3)


def test_reducing_an_empty_tensor_raises():
    with pytest.raises(ShapeError, match=r"max: cannot reduce an empty tensor of shape \(0,\)"):
        Tensor(np.zeros(0)).max()


@pytest.mark.parametrize("op", ["var", "std"])
def test_variance_without_degrees_of_freedom_warns_and_is_nan_as_in_pytorch(op):
    x = Tensor(np.array([[1.0], [2.0]]), requires_grad=True)
    with pytest.warns(UserWarning, match=rf"^{op}: 1 element.*shape \(2, 1\).*correction=1.*NaN"):
        y = getattr(x, op)(dim=1)
    assert np.isnan(y.data).all()
    y.sum().backward()
    assert np.isnan(x.grad.data).all()  # PyTorch's gradient there is NaN as well


def test_population_variance_of_one_element_is_zero_without_a_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Tensor([3.0]).var(correction=0).item() == 0.0


# --------------------------------------------------------------------------------------------
# Dtypes
# --------------------------------------------------------------------------------------------


def test_tensor_from_a_string_raises_dtype_error():
    with pytest.raises(DTypeError, match=r"Tensor: dtype <U3 is not numeric"):
        Tensor("abc")


def test_tensor_from_a_list_of_strings_raises_dtype_error():
    with pytest.raises(DTypeError, match="not numeric"):
        Tensor(["1.0", "2.0"])


def test_tensor_from_a_ragged_list_raises_dtype_error():
    with pytest.raises(DTypeError, match=r"Tensor: cannot make a numeric array from list"):
        Tensor([[1.0, 2.0], [3.0]])


def test_requires_grad_on_an_int_tensor_names_the_dtype_and_the_fix():
    with pytest.raises(DTypeError, match=r"requires_grad: .*int64.*dtype=float32"):
        Tensor(np.arange(3)).requires_grad_()


def test_requires_grad_on_ints_raises_in_the_constructor():
    with pytest.raises(DTypeError, match="requires_grad"):
        Tensor([1, 2, 3], requires_grad=True)


def test_requires_grad_on_ints_raises_in_factories():
    with pytest.raises(DTypeError, match="int64"):
        tl.zeros(3, dtype=np.int64, requires_grad=True)


def test_requires_grad_on_bools_raises():
    with pytest.raises(DTypeError, match="bool"):
        Tensor([True, False]).requires_grad_()


def test_value_from_a_string_raises_dtype_error():
    with pytest.raises(DTypeError, match=r"Value.__init__: expected a Python int or float.*str"):
        Value("2.0")


def test_value_plus_a_string_names_the_operator():
    with pytest.raises(DTypeError, match=r"Value.__add__: .*str 'a'"):
        Value(1.0) + "a"


def test_value_from_a_list_suggests_a_tensor():
    with pytest.raises(DTypeError, match="Tensor"):
        Value([1.0, 2.0])


def test_tensor_combined_with_a_value_raises_dtype_error():
    with pytest.raises(DTypeError, match="cannot combine a Value with a Tensor"):
        t(2) * Value(2.0)


def test_value_combined_with_a_tensor_raises_dtype_error_naming_both():
    with pytest.raises(DTypeError, match=r"Value.__mul__: cannot combine a Value with a Tensor"):
        Value(2.0) * t(2)


def test_one_hot_of_floats_raises_dtype_error():
    with pytest.raises(DTypeError, match="one_hot: indices must be integers"):
        tl.one_hot(Tensor([0.0, 1.0]))


# --------------------------------------------------------------------------------------------
# backward on a non-scalar
# --------------------------------------------------------------------------------------------


def test_backward_of_a_matrix_without_gradient_names_its_shape_and_the_fixes():
    with pytest.raises(RuntimeError) as info:
        (t(2, 3, requires_grad=True) * 2).backward()
    message = str(info.value)
    assert "backward" in message
    assert "(2, 3)" in message
    assert ".sum()" in message
    assert "gradient=" in message


def test_backward_gradient_with_the_wrong_shape_names_both_shapes():
    y = t(2, 3, requires_grad=True) * 2
    with pytest.raises(ShapeError, match=r"backward: gradient has shape \(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------


def test_index_out_of_range_names_the_index_and_the_shape():
    with pytest.raises(IndexError, match=r"getitem: index \[5\] .*out of range.*\(2, 3\)"):
        t(2, 3)[5]


def test_index_out_of_range_in_the_second_axis():
    with pytest.raises(IndexError, match=r"getitem: .*3\] .*\(2, 3\).*axis 1"):
        t(2, 3)[:, 3]


def test_too_many_indices_raise_index_error():
    with pytest.raises(IndexError, match=r"getitem: index \[0, 0, 0\].*\(2, 3\)"):
        t(2, 3)[0, 0, 0]


def test_float_index_arrays_raise_index_error():
    with pytest.raises(IndexError, match="getitem: index arrays must be integer or boolean"):
        t(3)[np.array([0.5])]


def test_item_assignment_is_refused_with_alternatives():
    x = t(3)
    with pytest.raises(TypeError, match="where"):
        x[0] = 1.0


def test_one_hot_class_out_of_range_raises_index_error():
    with pytest.raises(IndexError, match=r"one_hot: class values must be in \[0, 2\)"):
        tl.one_hot(Tensor(np.array([0, 2])), num_classes=2)


def test_item_of_a_vector_names_its_shape():
    with pytest.raises(ValueError, match=r"item\(\): .*shape \(3,\)"):
        t(3).item()


# --------------------------------------------------------------------------------------------
# Axes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("sum", lambda x: x.sum(axis=2)),
        ("mean", lambda x: x.mean(dim=-3)),
        ("max", lambda x: x.max(axis=5)),
        ("softmax", lambda x: x.softmax(axis=2)),
        ("log_softmax", lambda x: x.log_softmax(dim=2)),
        ("transpose", lambda x: x.transpose(0, 2)),
        ("cat", lambda x: tl.cat([x, x], dim=2)),
        ("split", lambda x: tl.split(x, 1, dim=2)),
    ],
)
def test_bad_axis_names_the_op_the_axis_and_the_valid_range(name, call):
    with pytest.raises(ShapeError, match=rf"^{name}: axis -?\d+ is out of range .*2 dimensions"):
        call(t(2, 3))


def test_unsqueeze_axis_out_of_range_gives_the_range_of_the_result():
    with pytest.raises(ShapeError, match=r"unsqueeze: axis 4 is out of range.*\[-3, 2\]"):
        t(2, 3).unsqueeze(4)


def test_bad_axis_message_gives_the_valid_range():
    with pytest.raises(ShapeError, match=r"\[-2, 1\]"):
        t(2, 3).sum(axis=2)


def test_non_integer_axis_raises():
    with pytest.raises(ShapeError, match="sum: axis 1.5"):
        t(2, 3).sum(axis=1.5)
