"""Many linear SVMs (squared hinge, L2) solved as one batched problem.

Every problem ``p`` minimises LIBLINEAR's L2-regularised L2-loss objective
(scikit-learn's ``LinearSVC(loss='squared_hinge', penalty='l2')``, the bias
being a regularised extra feature of value 1, ``intercept_scaling=1``)::

    0.5 * |w|^2 + sum_i c_ip * max(0, 1 - y_ip * w . x_i)^2

where ``c_ip`` is the problem's cost times the sample's class weight (0
leaves a sample out). The weights lie in the span of the samples,
``w = sum_i beta_i x_i``, so the problems are solved in the space of the
Gram matrix ``K = X X^T + 1``, shared by all problems on the same samples:
one ``K @ V`` product serves every class, cost and fold at once.

The solver is a truncated Newton method on the primal (as LIBLINEAR's
primal solver; Chapelle, "Training a support vector machine in the
primal", 2007, for the kernel form). With ``A`` the samples inside the
margin, the Hessian is ``I + 2 X_A^T diag(c_A) X_A``; the Newton system is
solved by conjugate gradients run on the weights' sample coefficients
(``v = X^T nu`` is carried as ``nu`` and ``K nu``, one Gram product per
iteration), so every iterate is a descent direction. An exact line search
on the piecewise-quadratic objective follows. Since the objective is
1-strongly convex, ``|w - w*| <= |grad|``: the solver stops when every
problem's gradient norm is below ``tol`` times its weights' norm.
:func:`squared_hinge_svms` follows a path of increasing costs, each problem
warm-started from the solution at the previous cost.
"""
from typing import Callable, Optional, Sequence, Tuple

import torch


def bias_gram(features: torch.Tensor) -> torch.Tensor:
    """The solver's Gram matrices ``X X^T + 1`` (a bias feature of 1).

    Args:
        features (torch.Tensor): ``(G x) m x d`` training features.

    Returns:
        torch.Tensor: ``(G x) m x m`` Gram matrices.
    """
    return features @ features.mT + 1


def decision_values(beta: torch.Tensor, train: torch.Tensor,
                    test: torch.Tensor) -> torch.Tensor:
    """Decision values of solved SVMs: ``test . w + b``.

    The weights ``w = X^T beta`` are formed first (``d x P``), so the test
    samples are never multiplied by the training samples.

    Args:
        beta (torch.Tensor): ``(G x) m x P`` coefficients, from
            :func:`squared_hinge_svms` (costs flattened into ``P``).
        train (torch.Tensor): ``(G x) m x d`` training features ``X``.
        test (torch.Tensor): ``M x d`` test features.

    Returns:
        torch.Tensor: ``(G x) M x P`` decision values.
    """
    return test @ (train.mT @ beta) + beta.sum(-2, keepdim=True)


def _column_dot(left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
    """Inner product of matching columns, ``(G x) 1 x P``."""
    return (left * right).sum(-2, keepdim=True)


def _all_groups(condition: torch.Tensor) -> torch.Tensor:
    """``P`` booleans: the ``(G x) 1 x P`` condition holds in every group."""
    return condition.reshape(-1, condition.shape[-1]).all(0)


def _take(columns: torch.Tensor, *tensors: torch.Tensor) -> tuple:
    """The given columns (last dimension) of every tensor."""
    return tuple(tensor[..., columns] for tensor in tensors)


def _newton_step(product: Callable[[torch.Tensor], torch.Tensor],
                 gradient: torch.Tensor,
                 gram_gradient: torch.Tensor, curvature: torch.Tensor,
                 forcing: float, max_iter: int) -> tuple:
    """Truncated conjugate gradients for ``H step = -grad``.

    ``H = I + 2 X^T diag(curvature) X`` in the weight space; vectors are
    represented by their sample coefficients. A column stops once its
    residual norm is below ``forcing`` times the gradient norm.

    Args:
        product (Callable): ``v -> K @ v`` for the ``(G x) m x m`` Gram
            matrices ``K``.
        gradient (torch.Tensor): ``(G x) m x P`` gradient coefficients.
        gram_gradient (torch.Tensor): ``K @ gradient``.
        curvature (torch.Tensor): ``(G x) m x P`` costs of the samples
            inside the margin, 0 elsewhere.
        forcing (float): Relative residual at which a column is done.
        max_iter (int): Iteration limit.

    Returns:
        tuple: The step's coefficients and their Gram product.
    """
    step, gram_step = torch.zeros_like(gradient), torch.zeros_like(gradient)
    live = torch.arange(gradient.shape[-1], device=gradient.device)
    residual, gram_residual = -gradient, -gram_gradient
    point, gram_point = step.clone(), step.clone()
    direction, gram_direction = residual.clone(), gram_residual.clone()
    residual_sq = _column_dot(residual, gram_residual)
    threshold = forcing**2 * residual_sq
    for _ in range(max_iter):
        done = _all_groups(residual_sq <= threshold)
        if bool(done.any()):
            step[..., live[done]] = point[..., done]
            gram_step[..., live[done]] = gram_point[..., done]
            (live, point, gram_point, residual, gram_residual, direction,
             gram_direction, curvature, residual_sq, threshold) = _take(
                 ~done, live, point, gram_point, residual, gram_residual,
                 direction, gram_direction, curvature, residual_sq,
                 threshold)
            if not len(live):
                return step, gram_step
        hessian_direction = direction + 2 * curvature * gram_direction
        gram_hessian_direction = product(hessian_direction)
        length = residual_sq / _column_dot(gram_direction,
                                           hessian_direction).clamp_min(1e-30)
        point = point + length * direction
        gram_point = gram_point + length * gram_direction
        residual = residual - length * hessian_direction
        gram_residual = gram_residual - length * gram_hessian_direction
        new_residual_sq = _column_dot(residual, gram_residual)
        ratio = new_residual_sq / residual_sq.clamp_min(1e-30)
        direction = residual + ratio * direction
        gram_direction = gram_residual + ratio * gram_direction
        residual_sq = new_residual_sq
    step[..., live] = point
    gram_step[..., live] = gram_point
    return step, gram_step


def _line_search(beta: torch.Tensor, decision: torch.Tensor,
                 delta: torch.Tensor, gram_delta: torch.Tensor,
                 targets: torch.Tensor, costs: torch.Tensor,
                 steps: int = 8) -> torch.Tensor:
    """Minimise the objective along ``beta + t * delta`` for every column.

    The objective is a convex piecewise quadratic in ``t``; a few Newton
    steps from ``t = 1`` (the Newton point) reach its minimum.

    Returns:
        torch.Tensor: ``(G x) 1 x P`` step lengths.
    """
    quadratic = _column_dot(delta, gram_delta)
    linear = _column_dot(beta, gram_delta)
    length = torch.ones_like(quadratic)
    for _ in range(steps):
        moved = decision + length * gram_delta
        weight = 2 * costs * (targets * moved < 1)
        slope = linear + length * quadratic + _column_dot(
            weight * (moved - targets), gram_delta)
        curvature = quadratic + _column_dot(weight * gram_delta, gram_delta)
        length = length - slope / curvature.clamp_min(1e-30)
    return length


def _jittered_product(gram: torch.Tensor
                      ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v -> (gram + jitter * I) @ v``, the diagonal at rounding level.

    With fewer dimensions than samples the Gram matrix is singular, and
    coefficient directions that do not move the weights would make the line
    search and the CG steps divide by zero. A diagonal of ``10 eps`` times
    the mean of the diagonal (1e-6 relative in float32) removes the null
    space; it is the same as giving every sample its own tiny extra
    feature, which changes decision values at the rounding level only. The
    diagonal is applied in the product, so the (large) Gram matrix is not
    copied.
    """
    jitter = 10 * torch.finfo(gram.dtype).eps * gram.diagonal(
        dim1=-2, dim2=-1).mean(-1)[..., None, None]
    return lambda vectors: gram @ vectors + jitter * vectors


def _check_inputs(gram: torch.Tensor, targets: torch.Tensor,
                  costs: torch.Tensor) -> None:
    """Raise a ValueError unless :func:`fit_fixed_costs` can solve these.

    Args:
        gram (torch.Tensor): Should be ``(G x) m x m``.
        targets (torch.Tensor): Should be ``(G x) m x P``, +1 or -1.
        costs (torch.Tensor): Should be shaped as ``targets``, finite and
            non-negative.
    """
    if gram.shape[-1] != gram.shape[-2] or gram.dim() not in (2, 3):
        raise ValueError('squared_hinge_svms: gram must be m x m or '
                         f'G x m x m, got {tuple(gram.shape)}.')
    if targets.shape != costs.shape:
        raise ValueError(
            f'squared_hinge_svms: targets {tuple(targets.shape)} and costs '
            f'{tuple(costs.shape)} must have the same shape.')
    if targets.shape[-2] != gram.shape[-1]:
        raise ValueError(
            f'squared_hinge_svms: the Gram matrix has {gram.shape[-1]} '
            f'samples but the targets have {targets.shape[-2]} rows.')
    if not bool(((targets == 1) | (targets == -1)).all()):
        raise ValueError('squared_hinge_svms: training targets must be +1 or '
                         '-1 (map ignored samples to a cost of 0 instead).')
    if bool((costs < 0).any()) or not bool(costs.isfinite().all()):
        raise ValueError('squared_hinge_svms: costs must be finite and >= 0.')


def fit_fixed_costs(gram: torch.Tensor,
                    targets: torch.Tensor,
                    costs: torch.Tensor,
                    start: Optional[torch.Tensor] = None,
                    tol: float = 1e-3,
                    max_newton: int = 100,
                    forcing: float = 0.1,
                    max_cg: int = 500) -> Tuple[torch.Tensor, int]:
    """Solve squared-hinge SVMs with given per-sample costs.

    Args:
        gram (torch.Tensor): ``(G x) m x m`` matrix ``X X^T + 1``.
        targets (torch.Tensor): ``(G x) m x P`` labels, +1 or -1.
        costs (torch.Tensor): ``(G x) m x P`` per-sample costs; 0 leaves a
            sample out.
        start (torch.Tensor, optional): Initial coefficients.
        tol (float): Stop a problem when ``|grad| <= tol * |w|``, or when a
            Newton step moved ``w`` by less than ``tol / 100 * |w|`` (no
            progress left at the working precision).
        max_newton (int): Newton iteration limit.
        forcing (float): Relative residual of the inner CG solves.
        max_cg (int): CG iterations per Newton step.

    Returns:
        tuple: The coefficients ``beta`` (``(G x) m x P``) and the number of
        Newton iterations run.
    """
    _check_inputs(gram, targets, costs)
    product = _jittered_product(gram)
    targets = targets.to(gram.dtype)
    costs = costs.to(gram.dtype)
    solution = torch.zeros_like(targets) if start is None else \
        start.to(gram.dtype).clone()
    live = torch.arange(targets.shape[-1], device=targets.device)
    beta = solution.clone()
    moved_sq = torch.full_like(beta[..., :1, :], torch.inf)
    for iteration in range(max_newton):
        # recomputed, not updated, so that rounding does not accumulate
        decision = product(beta)
        curvature = costs * (targets * decision < 1)
        gradient = beta + 2 * curvature * (decision - targets)
        gram_gradient = product(gradient)
        weights_sq = _column_dot(beta, decision)
        # converged, or stalled: the last step moved w by < tol / 100
        done = _all_groups(
            (_column_dot(gradient, gram_gradient) <= tol**2 * weights_sq)
            | (moved_sq <= (tol / 100)**2 * weights_sq))
        if bool(done.any()):
            solution[..., live[done]] = beta[..., done]
            (live, beta, decision, targets, costs, curvature, gradient,
             gram_gradient) = _take(~done, live, beta, decision, targets,
                                    costs, curvature, gradient, gram_gradient)
            if not len(live):
                return solution, iteration
        delta, gram_delta = _newton_step(product, gradient, gram_gradient,
                                         curvature, forcing, max_cg)
        length = _line_search(beta, decision, delta, gram_delta, targets,
                              costs)
        beta = beta + length * delta
        moved_sq = length**2 * _column_dot(delta, gram_delta)
    solution[..., live] = beta
    return solution, max_newton


def squared_hinge_svms(gram: torch.Tensor,
                       targets: torch.Tensor,
                       sample_weights: torch.Tensor,
                       costs: Sequence[float],
                       **options) -> torch.Tensor:
    """Solve every problem at every cost, along a path of growing costs.

    The costs are solved in increasing order; each cost starts from the
    solutions at the previous one, so the large, badly conditioned costs
    begin close to their solution.

    Args:
        gram (torch.Tensor): ``(G x) m x m`` matrix ``X X^T + 1`` of the
            training features with the bias feature.
        targets (torch.Tensor): ``(G x) m x Q`` labels, +1 or -1.
        sample_weights (torch.Tensor): ``(G x) m x Q`` weight of every
            sample in every problem (the class weight; 0 leaves the sample
            out: a held-out fold, a sample not drawn).
        costs (Sequence[float]): The ``C`` values.
        **options: Passed to :func:`fit_fixed_costs`.

    Returns:
        torch.Tensor: ``(G x) m x Q x len(costs)`` coefficients: the
        weights are ``X^T beta`` and the bias ``beta.sum(-2)``
        (:func:`decision_values`).
    """
    if not len(costs) or min(costs) <= 0:
        raise ValueError(f'SVM costs must be positive, got {list(costs)}.')
    sample_weights = sample_weights.to(gram.dtype)
    solutions = gram.new_zeros(*targets.shape, len(costs))
    beta = None
    for index in sorted(range(len(costs)), key=lambda i: costs[i]):
        beta, _ = fit_fixed_costs(gram, targets,
                                  costs[index] * sample_weights, beta,
                                  **options)
        solutions[..., index] = beta
    return solutions
