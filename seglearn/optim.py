"""Gradient-descent optimizers in NumPy, step for step equal to Keras's.

Each optimizer is a small class that keeps its state (velocities, moment
estimates, step count) between calls::

    opt = Adam(learning_rate=1e-3)
    for step in range(100):
        grads = compute_gradients(params)      # same structure as params
        params = opt.step(params, grads)

``params`` and ``grads`` are a list (or tuple) of arrays, or a dict of arrays
with the same keys. :meth:`Optimizer.step` returns new arrays in the same
structure and never modifies its inputs. The state is created at the first
step, with the shapes of the parameters, and every later step must pass
parameters of the same structure and shapes.

The formulas are those of the Keras 3 source (``keras/src/optimizers/``),
including where Keras puts ``epsilon``; the tests compare several steps with
``keras.optimizers.SGD``, ``RMSprop`` and ``Adam``. Computations keep the
parameters' floating dtype (float32 stays float32; integer parameters become
float64).
"""

from __future__ import annotations

import numpy as np

from ._validation import check_array, check_bool, check_real, describe

__all__ = ["Adam", "Optimizer", "RMSprop", "SGD"]


class Optimizer:
    """Base class: structure checks, state handling and the step counter.

    Subclasses implement :meth:`_update`, which receives one parameter, its
    gradient and that parameter's state dict and returns the new parameter.

    Parameters
    ----------
    learning_rate : float
        Step size ``eta > 0``.

    Attributes
    ----------
    iterations : int
        Number of steps taken so far (Keras's ``optimizer.iterations``).
    """

    def __init__(self, learning_rate):
        self.learning_rate = check_real(learning_rate, "learning_rate", low=0, low_inclusive=False)
        self.iterations = 0
        self._keys = None
        self._shapes = None
        self._state = None

    def _config(self):
        return {"learning_rate": self.learning_rate}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"{type(self).__name__}({args})"

    def reset(self):
        """Forget the state and the step count, as if no step had been taken."""
        self.iterations = 0
        self._keys = self._shapes = self._state = None

    def _new_state(self, param):  # pragma: no cover - overridden
        return {}

    def _update(self, param, grad, state):  # pragma: no cover - overridden
        raise NotImplementedError

    def step(self, params, grads):
        """Apply one update to every parameter and return the new parameters.

        Parameters
        ----------
        params : list, tuple or dict of ndarray
            Current parameter values ``w``.
        grads : same structure as ``params``
            Gradients ``g = dL/dw``, each of its parameter's shape.

        Returns
        -------
        list, tuple or dict of ndarray
            The updated parameters, in the structure of ``params``.
        """
        if isinstance(params, dict):
            if not isinstance(grads, dict) or set(grads) != set(params):
                raise ValueError(
                    "`grads` must be a dict with the same keys as `params`. "
                    f"Received: params keys={sorted(map(str, params))}, "
                    f"grads={sorted(map(str, grads)) if isinstance(grads, dict) else describe(grads)}"
                )
            # the order of the first step, whatever the order of later dicts
            keys = self._keys if self._keys is not None and set(params) == set(self._keys) else list(params)
            p_list = [params[k] for k in keys]
            g_list = [grads[k] for k in keys]
        elif isinstance(params, (list, tuple)):
            if not isinstance(grads, (list, tuple)) or len(grads) != len(params):
                raise ValueError(
                    "`grads` must be a list with one gradient per parameter "
                    f"({len(params)}). Received: grads={describe(grads)}"
                )
            keys = list(range(len(params)))
            p_list, g_list = list(params), list(grads)
        else:
            raise TypeError(
                "`params` must be a list, tuple or dict of arrays. "
                f"Received: params={describe(params)}"
            )
        if not p_list:
            raise ValueError("`params` must hold at least one array. Received: params=empty")

        arrays, gradients = [], []
        for key, p, g in zip(keys, p_list, g_list):
            p = check_array(p, f"params[{key!r}]")
            if p.dtype.kind != "f":
                p = p.astype(np.float64)
            g = check_array(g, f"grads[{key!r}]").astype(p.dtype, copy=False)
            if g.shape != p.shape:
                raise ValueError(
                    f"`grads[{key!r}]` must have the shape of its parameter {p.shape}. "
                    f"Received: grads[{key!r}].shape={g.shape}"
                )
            arrays.append(p)
            gradients.append(g)

        shapes = [p.shape for p in arrays]
        if self._state is None:
            self._keys, self._shapes = keys, shapes
            self._state = [self._new_state(p) for p in arrays]
        elif keys != self._keys or shapes != self._shapes:
            raise ValueError(
                "`params` must have the structure and shapes of the first step "
                f"(keys {self._keys}, shapes {self._shapes}); call reset() to start "
                f"over. Received: keys {keys}, shapes {shapes}"
            )
        self.iterations += 1
        new = [self._update(p, g, s) for p, g, s in zip(arrays, gradients, self._state)]
        if isinstance(params, dict):
            return {k: new[keys.index(k)] for k in params}
        return type(params)(new) if isinstance(params, tuple) else new


def _fraction(value, name):
    """A hyperparameter in [0, 1) such as a momentum or a decay rate."""
    return check_real(value, name, low=0, high=1, high_inclusive=False)


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum.

    Without momentum (``mu = 0``): ``w <- w - eta * g``.
    With momentum, the velocity ``v`` starts at 0 and (Keras's form):

    .. math::

        v \leftarrow \mu v - \eta g, \qquad
        w \leftarrow w + v \quad\text{or, Nesterov,}\quad
        w \leftarrow w + \mu v - \eta g

    Parameters
    ----------
    learning_rate : float
        ``eta > 0``; Keras's default is 0.01.
    momentum : float
        ``mu`` in ``[0, 1)``.
    nesterov : bool
        Use Nesterov's look-ahead update.

    Examples
    --------
    ``v = 0.9*0 - 0.1*2 = -0.2``, ``w = 1 - 0.2 = 0.8``; then
    ``v = 0.9*(-0.2) - 0.1*2 = -0.38``, ``w = 0.8 - 0.38 = 0.42``:

    >>> import numpy as np
    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    >>> w = [np.array([1.0])]
    >>> w = opt.step(w, [np.array([2.0])])
    >>> w = opt.step(w, [np.array([2.0])])
    >>> np.round(w[0], 6)
    array([0.42])
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False):
        super().__init__(learning_rate)
        self.momentum = _fraction(momentum, "momentum")
        self.nesterov = check_bool(nesterov, "nesterov")

    def _config(self):
        return {**super()._config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _new_state(self, param):
        return {"velocity": np.zeros_like(param)} if self.momentum else {}

    def _update(self, w, g, state):
        lr = self.learning_rate
        if not self.momentum:
            return w - lr * g
        v = self.momentum * state["velocity"] - lr * g
        state["velocity"] = v
        if self.nesterov:
            return w + (self.momentum * v - lr * g)
        return w + v


class RMSprop(Optimizer):
    r"""RMSprop: divide the gradient by a running root mean square.

    With ``s`` (Keras's "velocity") starting at 0:

    .. math::

        s \leftarrow \rho s + (1 - \rho) g^2, \qquad
        \Delta = \frac{\eta \, g}{\sqrt{s + \epsilon}}

    Note that ``epsilon`` is added inside the square root, as Keras does.
    With ``centered=True`` a running mean ``a <- rho a + (1 - rho) g`` is kept
    too and the denominator is ``sqrt(s - a^2 + epsilon)``. Then, without
    momentum, ``w <- w - Delta``; with momentum ``mu``, ``m <- mu m + Delta``
    and ``w <- w - m``.

    Parameters
    ----------
    learning_rate : float
        ``eta > 0``; Keras's default is 0.001.
    rho : float
        Decay rate of the running average, in ``[0, 1)``.
    momentum : float
        ``mu`` in ``[0, 1)``.
    epsilon : float
        ``> 0``, added to ``s`` under the square root.
    centered : bool
        Normalise by the estimated variance instead of the second moment.

    Examples
    --------
    First step from ``s = 0``: ``s = 0.1 * 4 = 0.4``,
    ``w = 1 - 0.1 * 2 / sqrt(0.4 + 1e-7) = 1 - 0.3162 = 0.6838``:

    >>> import numpy as np
    >>> RMSprop(learning_rate=0.1).step([np.array([1.0])], [np.array([2.0])])[0].round(4)
    array([0.6838])
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
        super().__init__(learning_rate)
        self.rho = _fraction(rho, "rho")
        self.momentum = _fraction(momentum, "momentum")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_inclusive=False)
        self.centered = check_bool(centered, "centered")

    def _config(self):
        return {
            **super()._config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }

    def _new_state(self, param):
        state = {"velocity": np.zeros_like(param)}
        if self.momentum:
            state["momentum"] = np.zeros_like(param)
        if self.centered:
            state["average_gradient"] = np.zeros_like(param)
        return state

    def _update(self, w, g, state):
        rho = self.rho
        s = rho * state["velocity"] + (1 - rho) * g**2
        state["velocity"] = s
        if self.centered:
            a = rho * state["average_gradient"] + (1 - rho) * g
            state["average_gradient"] = a
            denominator = s - a**2 + self.epsilon
        else:
            denominator = s + self.epsilon
        increment = self.learning_rate * g / np.sqrt(denominator)
        if self.momentum:
            m = self.momentum * state["momentum"] + increment
            state["momentum"] = m
            return w - m
        return w - increment


class Adam(Optimizer):
    r"""Adam, in the form Keras implements (epsilon-hat, bias correction in the step).

    With ``m`` and ``v`` starting at 0 and ``t`` the step number (1, 2, ...):

    .. math::

        m \leftarrow m + (1 - \beta_1)(g - m), \qquad
        v \leftarrow v + (1 - \beta_2)(g^2 - v),

        \alpha_t = \eta \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}, \qquad
        w \leftarrow w - \frac{\alpha_t \, m}{\sqrt{v} + \hat\epsilon}

    The bias correction is folded into the step size ``alpha_t`` and
    ``epsilon`` ("epsilon hat" of Kingma and Ba, just before their Section 2.1)
    is added to ``sqrt(v)``, not to the bias-corrected ``sqrt(v_hat)``: this
    differs slightly from Algorithm 1 of the paper when ``v`` is small. With
    ``amsgrad=True`` the denominator uses the running maximum of ``v``.

    Parameters
    ----------
    learning_rate : float
        ``eta > 0``; Keras's default is 0.001.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates, in ``[0, 1)``.
    epsilon : float
        ``epsilon-hat > 0``.
    amsgrad : bool
        Use the AMSGrad variant.

    Examples
    --------
    The first step moves every weight by about ``learning_rate`` against the
    sign of its gradient: ``m = 0.1 g``, ``v = 0.001 g^2``,
    ``alpha_1 = eta sqrt(0.001) / 0.1``, so ``alpha_1 m / sqrt(v) = eta``:

    >>> import numpy as np
    >>> Adam(learning_rate=0.01).step([np.array([1.0, 1.0])], [np.array([3.0, -0.5])])[0].round(6)
    array([0.99, 1.01])
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
        super().__init__(learning_rate)
        self.beta_1 = _fraction(beta_1, "beta_1")
        self.beta_2 = _fraction(beta_2, "beta_2")
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_inclusive=False)
        self.amsgrad = check_bool(amsgrad, "amsgrad")

    def _config(self):
        return {
            **super()._config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }

    def _new_state(self, param):
        state = {"m": np.zeros_like(param), "v": np.zeros_like(param)}
        if self.amsgrad:
            state["v_hat"] = np.zeros_like(param)
        return state

    def _update(self, w, g, state):
        t = self.iterations
        alpha = self.learning_rate * (1 - self.beta_2**t) ** 0.5 / (1 - self.beta_1**t)
        m = state["m"] + (g - state["m"]) * (1 - self.beta_1)
        v = state["v"] + (g**2 - state["v"]) * (1 - self.beta_2)
        state["m"], state["v"] = m, v
        if self.amsgrad:
            v = np.maximum(state["v_hat"], v)
            state["v_hat"] = v
        return w - (m * alpha) / (np.sqrt(v) + self.epsilon)
