"""PyTorch twins of hpo's model families (trainer/mlp.h, cnn.h, vit.h, lm.h and transformer.h), written as a
PyTorch user would (nn.Linear, nn.Conv2d on NCHW, nn.BatchNorm2d, nn.LayerNorm, attention in matmuls), and
the mapping between their parameters and hpo's flat layout.

Shared by the parity test (tests/trainer/torch_parity.py: same weights and inputs, logits and gradients
compared) and the bench (bench/trainer/torch_arch.py: the same models timed). A model is built from the
config dict that the C++ side writes, with hpo's field names:
  mlp: input_dim, hidden_layers, width, classes, activation, layer_norm, residual
  cnn: height, width, channels, classes, stage_channels, blocks, kernel_size, stride_downsample,
       batch_norm, depthwise, residual, activation
  vit: height, width, channels, classes, patch_size, position, and the transformer fields
  lm:  vocab, seq_len, position, and the transformer fields
  transformer: d_model, layers, heads, kv_heads, ffn_hidden, window, norm, post_norm, ffn
Dropout is left out: both sides are compared and timed without it.

Conventions (as hpo's headers state them): GELU is the tanh approximation; LayerNorm and RMSNorm have eps
1e-5; BatchNorm2d momentum 0.1, eps 1e-5; RoPE rotates the pair (i, i + head_dim/2) by pos *
10000^(-2i/head_dim); ALiBi adds -2^(-8(h+1)/heads) |p - j|; a sliding window shows key j to position p
when p - j < window (causal) or |p - j| < window; query head h reads kv head h // (heads / kv_heads).

hpo stores a weight matrix fan_in x fan_out (nn.Linear.weight transposed), a convolution's weights
(kh * kw * cin) x cout with row (kh * kernel_w + kw) * cin + c, a depthwise window (kh * kw) x channels,
and tables (embeddings, positions) as rows x d, as PyTorch does.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-5


def activation(name):
    return {"relu": F.relu, "tanh": torch.tanh, "silu": F.silu, "identity": lambda z: z,
            "gelu": lambda z: F.gelu(z, approximate="tanh")}[name]


# --- Parameter mapping -------------------------------------------------------------------------------------

def to_hpo(kind, t):
    """A PyTorch parameter as hpo lays it out (a 2-D array, rows x cols)."""
    t = t.detach()
    if kind == "linear":  # out x in -> in x out
        return t.t()
    if kind == "conv":  # cout x cin x kh x kw -> (kh, kw, cin) x cout
        return t.permute(2, 3, 1, 0).reshape(-1, t.shape[0])
    if kind == "depthwise":  # c x 1 x kh x kw -> (kh, kw) x c
        return t.reshape(t.shape[0], -1).t()
    return t.reshape(-1, t.shape[-1]) if t.dim() > 1 else t.reshape(1, -1)  # vectors and tables


def from_hpo(kind, a, shape):
    """hpo's rows x cols array `a` as a PyTorch parameter of `shape`."""
    if kind == "linear":
        return a.t().reshape(shape)
    if kind == "conv":
        cout, cin, kh, kw = shape
        return a.reshape(kh, kw, cin, cout).permute(3, 2, 0, 1)
    if kind == "depthwise":
        return a.t().reshape(shape)
    return a.reshape(shape)


def load_hpo(model, arrays):
    """Sets every parameter of `model` from {hpo name: rows x cols tensor}; KeyError for a missing one."""
    with torch.no_grad():
        for name, param, kind in model.hpo_params():
            param.copy_(from_hpo(kind, arrays[name].to(param.dtype), param.shape))


def decay_groups(model, weight_decay):
    """AdamW parameter groups that decay what hpo decays: weight matrices and convolution weights, not
    biases, norms or tables."""
    decay = [p for _, p, kind in model.hpo_params() if kind in ("linear", "conv", "depthwise")]
    rest = [p for _, p, kind in model.hpo_params() if kind not in ("linear", "conv", "depthwise")]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def hpo_grads(model):
    """{hpo name: gradient as hpo lays it out} (zeros where PyTorch computed none)."""
    out = {}
    for name, param, kind in model.hpo_params():
        g = param.grad if param.grad is not None else torch.zeros_like(param)
        out[name] = to_hpo(kind, g)
    return out


# --- MLP ---------------------------------------------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = activation(c.get("activation", "relu"))
        self.residual = c.get("residual", False)
        self.width = c["width"]
        dims = [c["input_dim"]] + [c["width"]] * c["hidden_layers"]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(nn.LayerNorm(self.width, eps=NORM_EPS) for _ in self.hidden) \
            if c.get("layer_norm", False) else None
        self.out = nn.Linear(dims[-1], c["classes"])

    def forward(self, x):
        h = x
        for i, layer in enumerate(self.hidden):
            z = layer(h)
            if self.norms is not None:
                z = self.norms[i](z)
            a = self.act(z)
            h = a + h if self.residual and h.shape[-1] == self.width else a
        return self.out(h)

    def hpo_params(self):
        p = []
        for i, layer in enumerate(self.hidden):
            p += [(f"w{i}", layer.weight, "linear"), (f"b{i}", layer.bias, "vector")]
            if self.norms is not None:
                p += [(f"g{i}", self.norms[i].weight, "vector"), (f"beta{i}", self.norms[i].bias, "vector")]
        n = len(self.hidden)
        return p + [(f"w{n}", self.out.weight, "linear"), (f"b{n}", self.out.bias, "vector")]


# --- CNN ---------------------------------------------------------------------------------------------------

class ConvBlock(nn.Module):
    """conv (or depthwise window + 1x1) -> batch norm (or bias) -> act, plus the residual path."""

    def __init__(self, cin, cout, k, stride, c, depthwise):
        super().__init__()
        bn = c.get("batch_norm", True)
        self.act = activation(c.get("activation", "relu"))
        self.depthwise = depthwise
        if depthwise:
            self.dw = nn.Conv2d(cin, cin, k, stride, k // 2, groups=cin, bias=False)
            self.conv = nn.Conv2d(cin, cout, 1, bias=not bn)
        else:
            self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=not bn)
        self.bn = nn.BatchNorm2d(cout, eps=NORM_EPS, momentum=0.1) if bn else None
        self.residual = c.get("residual", False)
        self.proj = nn.Conv2d(cin, cout, 1, stride) if self.residual and (cin != cout or stride != 1) else None

    def forward(self, x):
        z = self.conv(self.dw(x)) if self.depthwise else self.conv(x)
        out = self.act(self.bn(z) if self.bn is not None else z)
        if not self.residual:
            return out
        return out + (self.proj(x) if self.proj is not None else x)

    def hpo_params(self, name):
        p = [(name + "dw", self.dw.weight, "depthwise"), (name + "pw", self.conv.weight, "conv")] \
            if self.depthwise else [(name + "w", self.conv.weight, "conv")]
        if self.bn is not None:
            p += [(name + "gamma", self.bn.weight, "vector"), (name + "beta", self.bn.bias, "vector")]
        else:
            p += [(name + "b", self.conv.bias, "vector")]
        if self.proj is not None:
            p += [(name + "proj_w", self.proj.weight, "conv"), (name + "proj_b", self.proj.bias, "vector")]
        return p


class Cnn(nn.Module):
    """Takes NHWC images (as hpo's rows) and runs channels-first, as PyTorch's convolutions want."""

    def __init__(self, c):
        super().__init__()
        self.shape = (c["height"], c["width"], c["channels"])
        units, self.names = [], []
        cin, k = c["channels"], c.get("kernel_size", 3)
        for s, cout in enumerate(c["stage_channels"]):
            for b in range(c.get("blocks", 1)):
                stride = 1
                if s > 0 and b == 0:
                    if c.get("stride_downsample", False):
                        stride = 2
                    else:
                        units.append(nn.MaxPool2d(2))
                        self.names.append(None)
                depthwise = c.get("depthwise", False) and len(units) > 0
                units.append(ConvBlock(cin, cout, k, stride, c, depthwise))
                self.names.append(f"s{s + 1}b{b + 1}.")
                cin = cout
        self.units = nn.Sequential(*units)
        # The head reads the last block's output averaged over its pixels, or flattened in hpo's NHWC order.
        self.global_pool = c.get("global_pool", False)
        features = cin
        if not self.global_pool:
            h, w, _ = self.shape
            for _ in range(len(c["stage_channels"]) - 1):
                h, w = (h // 2, w // 2) if not c.get("stride_downsample", False) else ((h - 1) // 2 + 1,
                                                                                        (w - 1) // 2 + 1)
            features = h * w * cin
        self.head = nn.Linear(features, c["classes"])

    def forward(self, x):
        h, w, ch = self.shape
        x = x.reshape(-1, h, w, ch).permute(0, 3, 1, 2)
        y = self.units(x)
        if self.global_pool:
            return self.head(y.mean(dim=(2, 3)))
        return self.head(y.permute(0, 2, 3, 1).reshape(y.shape[0], -1))

    def hpo_params(self):
        p = []
        for unit, name in zip(self.units, self.names):
            if name is not None:
                p += unit.hpo_params(name)
        return p + [("head.w", self.head.weight, "linear"), ("head.b", self.head.bias, "vector")]


# --- Transformers ------------------------------------------------------------------------------------------

class RmsNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.weight


def make_norm(c):
    return RmsNorm(c["d_model"]) if c.get("norm", "layernorm") == "rmsnorm" else \
        nn.LayerNorm(c["d_model"], eps=NORM_EPS)


def norm_params(name, norm):
    p = [(name + ".gamma", norm.weight, "vector")]
    return p + [(name + ".beta", norm.bias, "vector")] if isinstance(norm, nn.LayerNorm) else p


def rope(x, pos_offset, base=10000.0):
    """x: batch x len x heads x head_dim, rotated in the rotate-half convention."""
    t, hd = x.shape[1], x.shape[-1]
    half = hd // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    angle = torch.arange(pos_offset, pos_offset + t, dtype=torch.float64)[:, None] * inv[None, :]
    cos = angle.cos().to(x.dtype)[None, :, None, :]
    sin = angle.sin().to(x.dtype)[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


def sinusoidal(length, d):
    p = torch.arange(length, dtype=torch.float64)[:, None]
    col = torch.arange(d)
    angle = p / 10000.0 ** ((col - col % 2).to(torch.float64) / d)
    return torch.where(col % 2 == 0, angle.sin(), angle.cos())


class Attention(nn.Module):
    def __init__(self, c, causal, position):
        super().__init__()
        d, self.heads, self.kv_heads = c["d_model"], c["heads"], c.get("kv_heads", c["heads"])
        self.hd = d // self.heads
        self.causal, self.window = causal, c.get("window", 0)
        self.rope, self.alibi = position == "rope", position == "alibi"
        self.wq = nn.Linear(d, self.heads * self.hd)
        self.wk = nn.Linear(d, self.kv_heads * self.hd)
        self.wv = nn.Linear(d, self.kv_heads * self.hd)
        self.wo = nn.Linear(self.heads * self.hd, d)

    def bias(self, q_len, kv_len, pos_offset, dtype, device):
        """The additive mask and ALiBi bias: heads x q_len x kv_len (or None when nothing is masked)."""
        p = torch.arange(pos_offset, pos_offset + q_len, device=device)[:, None]
        j = torch.arange(kv_len, device=device)[None, :]
        visible = torch.ones(q_len, kv_len, dtype=torch.bool, device=device)
        if self.causal:
            visible &= j <= p
        if self.window > 0:
            visible &= (p - j < self.window) if self.causal else ((p - j).abs() < self.window)
        bias = torch.zeros(q_len, kv_len, dtype=dtype, device=device).masked_fill(~visible, float("-inf"))
        bias = bias[None].expand(self.heads, q_len, kv_len)
        if self.alibi:
            slopes = 2.0 ** (-8.0 * torch.arange(1, self.heads + 1, device=device, dtype=torch.float64)
                             / self.heads)
            bias = bias - (slopes[:, None, None] * (p - j).abs()[None].to(torch.float64)).to(dtype)
        return bias

    def forward(self, x, pos_offset=0, cache=None):
        """x: batch x len x d. cache: None, or {"k", "v"}: 1 x seq_len x kv_heads x head_dim tensors that
        hold the keys and values of positions [0, pos_offset) (batch 1, under no_grad) and receive this
        call's."""
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.heads, self.hd)
        k = self.wk(x).view(b, t, self.kv_heads, self.hd)
        v = self.wv(x).view(b, t, self.kv_heads, self.hd)
        if self.rope:
            q, k = rope(q, pos_offset), rope(k, pos_offset)
        if cache is not None:  # preallocated: write this call's rows, attend over [0, pos_offset + t)
            cache["k"][:, pos_offset:pos_offset + t] = k
            cache["v"][:, pos_offset:pos_offset + t] = v
            k, v = cache["k"][:, :pos_offset + t], cache["v"][:, :pos_offset + t]
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.kv_heads != self.heads:
            group = self.heads // self.kv_heads
            k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if self.causal or self.window > 0 or self.alibi:
            scores = scores + self.bias(t, k.shape[2], pos_offset, scores.dtype, scores.device)
        o = torch.softmax(scores, -1) @ v
        return self.wo(o.transpose(1, 2).reshape(b, t, self.heads * self.hd))


class FeedForward(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, f = c["d_model"], c["ffn_hidden"]
        self.swiglu = c.get("ffn", "gelu") == "swiglu"
        self.w1 = nn.Linear(d, 2 * f if self.swiglu else f)
        self.w2 = nn.Linear(f, d)

    def forward(self, x):
        h = self.w1(x)
        if self.swiglu:
            g, u = h.chunk(2, -1)
            return self.w2(F.silu(g) * u)
        return self.w2(F.gelu(h, approximate="tanh"))


class Block(nn.Module):
    def __init__(self, c, causal, position):
        super().__init__()
        self.post = c.get("post_norm", False)
        self.norm1, self.norm2 = make_norm(c), make_norm(c)
        self.attn = Attention(c, causal, position)
        self.ffn = FeedForward(c)

    def forward(self, x, pos_offset=0, cache=None):
        if self.post:
            h = self.norm1(x + self.attn(x, pos_offset, cache))
            return self.norm2(h + self.ffn(h))
        h = x + self.attn(self.norm1(x), pos_offset, cache)
        return h + self.ffn(self.norm2(h))

    def hpo_params(self, p):
        a, f = self.attn, self.ffn
        out = norm_params(p + "norm1", self.norm1)
        for n in ("q", "k", "v", "o"):
            lin = getattr(a, "w" + n)
            out += [(p + "w" + n, lin.weight, "linear"), (p + "b" + n, lin.bias, "vector")]
        out += norm_params(p + "norm2", self.norm2)
        return out + [(p + "w1", f.w1.weight, "linear"), (p + "b1", f.w1.bias, "vector"),
                      (p + "w2", f.w2.weight, "linear"), (p + "b2", f.w2.bias, "vector")]


class Stack(nn.Module):
    """TransformerStack: the blocks, and norm_f after the last with pre-norm."""

    def __init__(self, c, causal, position):
        super().__init__()
        self.blocks = nn.ModuleList(Block(c, causal, position) for _ in range(c["layers"]))
        self.norm_f = None if c.get("post_norm", False) else make_norm(c)

    def forward(self, x, pos_offset=0, caches=None):
        for i, block in enumerate(self.blocks):
            x = block(x, pos_offset, None if caches is None else caches[i])
        return x if self.norm_f is None else self.norm_f(x)

    def hpo_params(self):
        p = []
        for i, block in enumerate(self.blocks):
            p += block.hpo_params(f"l{i}.")
        return p + (norm_params("norm_f", self.norm_f) if self.norm_f is not None else [])


class Vit(nn.Module):
    """Takes NHWC images (as hpo's rows); patches through a strided nn.Conv2d, tokens in row-major patch
    order, mean-pooled before the head."""

    def __init__(self, c):
        super().__init__()
        self.shape = (c["height"], c["width"], c["channels"])
        p, d = c["patch_size"], c["d_model"]
        self.patch = nn.Conv2d(c["channels"], d, p, p)
        tokens = (c["height"] // p) * (c["width"] // p)
        self.position = c.get("position", "learned")
        self.pos_emb = nn.Parameter(torch.zeros(tokens, d)) if self.position == "learned" else None
        if self.position == "sinusoidal":
            self.register_buffer("table", sinusoidal(tokens, d).float())
        self.stack = Stack(c, causal=False, position=self.position)
        self.head = nn.Linear(d, c["classes"])

    def forward(self, x):
        h, w, ch = self.shape
        x = self.patch(x.reshape(-1, h, w, ch).permute(0, 3, 1, 2)).flatten(2).transpose(1, 2)
        if self.pos_emb is not None:
            x = x + self.pos_emb
        elif self.position == "sinusoidal":
            x = x + self.table.to(x.dtype)
        return self.head(self.stack(x).mean(1))

    def hpo_params(self):
        p = [("patch.w", self.patch.weight, "conv"), ("patch.b", self.patch.bias, "vector")]
        if self.pos_emb is not None:
            p.append(("pos_emb", self.pos_emb, "table"))
        return p + self.stack.hpo_params() + [("head.w", self.head.weight, "linear"),
                                              ("head.b", self.head.bias, "vector")]


class Lm(nn.Module):
    """Causal byte-level language model: tokens (batch x len, int64) -> logits (batch x len x vocab). With
    caches (one dict per block, from new_caches()), forward at pos_offset decodes against a KV cache."""

    def __init__(self, c):
        super().__init__()
        d, self.seq_len = c["d_model"], c["seq_len"]
        self.tok_emb = nn.Embedding(c.get("vocab", 256), d)
        self.position = c.get("position", "learned")
        self.pos_emb = nn.Parameter(torch.zeros(self.seq_len, d)) if self.position == "learned" else None
        if self.position == "sinusoidal":
            self.register_buffer("table", sinusoidal(self.seq_len, d).float())
        self.stack = Stack(c, causal=True, position=self.position)
        self.head = nn.Linear(d, c.get("vocab", 256))

    def new_caches(self):
        """A KV cache of seq_len positions per block, for batch 1 (decoding under no_grad)."""
        p = self.head.weight
        caches = []
        for block in self.stack.blocks:
            a = block.attn
            shape = (1, self.seq_len, a.kv_heads, a.hd)
            caches.append({"k": p.new_zeros(shape), "v": p.new_zeros(shape)})
        return caches

    def forward(self, tokens, pos_offset=0, caches=None):
        t = tokens.shape[1]
        x = self.tok_emb(tokens)
        if self.pos_emb is not None:
            x = x + self.pos_emb[pos_offset:pos_offset + t]
        elif self.position == "sinusoidal":
            x = x + self.table[pos_offset:pos_offset + t].to(x.dtype)
        return self.head(self.stack(x, pos_offset, caches))

    def hpo_params(self):
        p = [("tok_emb", self.tok_emb.weight, "table")]
        if self.pos_emb is not None:
            p.append(("pos_emb", self.pos_emb, "table"))
        return p + self.stack.hpo_params() + [("head.w", self.head.weight, "linear"),
                                              ("head.b", self.head.bias, "vector")]


FAMILIES = {"mlp": Mlp, "cnn": Cnn, "vit": Vit, "lm": Lm}


def build(family, config):
    """The PyTorch twin of hpo's `family` model with `config` (hpo's field names; see the docstring)."""
    return FAMILIES[family](config)
