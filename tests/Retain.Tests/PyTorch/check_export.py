"""Loads models Retain exported into PyTorch modules written here after the seed's networks (its networks/mlp.py,
mlp_hat.py, alexnet.py and alexnet_hat.py, with the seed's parameter names) and checks that they compute what Retain
computed.

    check_export.py MODEL.pt EXPECTED.pt [MODEL.pt EXPECTED.pt ...]

MODEL.pt is what `retain export` (or PyTorchFile.Save) wrote; EXPECTED.pt holds the inputs `x` and Retain's logits
`logits[str(task)]` on them, in evaluation mode (HAT's gates at its evaluation sharpness), and for EWC the sums of
the Fisher diagonal Retain held, `fisher_sums[name]`. Prints one line per model; exits 1 at the first mismatch.
"""
import sys

import torch
from torch import nn

# Retain and PyTorch run the same float32 operations, but in different builds of libtorch (TorchSharp's and Debian's
# 1.13) whose kernels may sum in another order: each product sum may differ by a few ulps, about 1e-7 relative, and
# up to ~1e-6 after the 2000-wide layers. 1e-4 relative (1e-5 absolute near zero) is far above that, and far below any
# real difference (a wrong weight, name, layout or gate changes logits by 1e-2 and more).
RTOL, ATOL = 1e-4, 1e-5


def conv_side(size, kernel):
    return size - kernel + 1


class Mlp(nn.Module):
    """The seed's mlp: three dense blocks of 800 units, dropout 0.5, one head per task."""

    def __init__(self, inputsize, taskcla):
        super().__init__()
        channels, size, _ = inputsize
        self.taskcla = taskcla
        self.relu, self.drop = nn.ReLU(), nn.Dropout(0.5)
        self.fc1 = nn.Linear(channels * size * size, 800)
        self.fc2 = nn.Linear(800, 800)
        self.fc3 = nn.Linear(800, 800)
        self.last = nn.ModuleList([nn.Linear(800, n) for _, n in taskcla])

    def forward(self, x):
        h = x.view(x.size(0), -1)
        for fc in (self.fc1, self.fc2, self.fc3):
            h = self.drop(self.relu(fc(h)))
        return [self.last[t](h) for t, _ in self.taskcla]


class MlpHat(nn.Module):
    """The seed's mlp_hat: input dropout 0.2, two dense blocks of 2000 units each gated by sigmoid(s * efc_l[t])."""

    def __init__(self, inputsize, taskcla, nhid=2000):
        super().__init__()
        channels, size, _ = inputsize
        self.taskcla = taskcla
        self.relu, self.drop1, self.drop2 = nn.ReLU(), nn.Dropout(0.2), nn.Dropout(0.5)
        self.fc1 = nn.Linear(channels * size * size, nhid)
        self.efc1 = nn.Embedding(len(taskcla), nhid)
        self.fc2 = nn.Linear(nhid, nhid)
        self.efc2 = nn.Embedding(len(taskcla), nhid)
        self.last = nn.ModuleList([nn.Linear(nhid, n) for _, n in taskcla])

    def mask(self, t, s):
        return [torch.sigmoid(s * self.efc1(t)), torch.sigmoid(s * self.efc2(t))]

    def forward(self, t, x, s):
        g1, g2 = masks = self.mask(t, s)
        h = self.drop1(x.view(x.size(0), -1))
        h = self.drop2(self.relu(self.fc1(h))) * g1
        h = self.drop2(self.relu(self.fc2(h))) * g2
        return [self.last[i](h) for i, _ in self.taskcla], masks


def alexnet_layers(module, inputsize, names):
    """The seed's AlexNet: convolutions of 64, 128, 256 channels (kernels size//8, size//10, 2), dense 2048, 2048."""
    channels, size, _ = inputsize
    conv1, conv2, conv3 = names
    setattr(module, conv1, nn.Conv2d(channels, 64, kernel_size=size // 8))
    side = conv_side(size, size // 8) // 2
    setattr(module, conv2, nn.Conv2d(64, 128, kernel_size=size // 10))
    side = conv_side(side, size // 10) // 2
    setattr(module, conv3, nn.Conv2d(128, 256, kernel_size=2))
    side = conv_side(side, 2) // 2
    module.fc1 = nn.Linear(256 * side * side, 2048)
    module.fc2 = nn.Linear(2048, 2048)
    module.maxpool, module.relu, module.drop1, module.drop2 = nn.MaxPool2d(2), nn.ReLU(), nn.Dropout(0.2), nn.Dropout(0.5)


class AlexNet(nn.Module):
    """The seed's alexnet, whose convolutions it names conv1..conv3."""

    def __init__(self, inputsize, taskcla):
        super().__init__()
        self.taskcla = taskcla
        alexnet_layers(self, inputsize, ("conv1", "conv2", "conv3"))
        self.last = nn.ModuleList([nn.Linear(2048, n) for _, n in taskcla])

    def forward(self, x):
        h = self.maxpool(self.drop1(self.relu(self.conv1(x))))
        h = self.maxpool(self.drop1(self.relu(self.conv2(h))))
        h = self.maxpool(self.drop2(self.relu(self.conv3(h)))).view(x.size(0), -1)
        h = self.drop2(self.relu(self.fc1(h)))
        h = self.drop2(self.relu(self.fc2(h)))
        return [self.last[t](h) for t, _ in self.taskcla]


class AlexNetHat(nn.Module):
    """The seed's alexnet_hat: c1..c3, each block's output multiplied by its unit gates sigmoid(s * e_l[t])."""

    def __init__(self, inputsize, taskcla):
        super().__init__()
        self.taskcla = taskcla
        alexnet_layers(self, inputsize, ("c1", "c2", "c3"))
        self.last = nn.ModuleList([nn.Linear(2048, n) for _, n in taskcla])
        for name, units in (("ec1", 64), ("ec2", 128), ("ec3", 256), ("efc1", 2048), ("efc2", 2048)):
            setattr(self, name, nn.Embedding(len(taskcla), units))

    def mask(self, t, s):
        return [torch.sigmoid(s * e(t)) for e in (self.ec1, self.ec2, self.ec3, self.efc1, self.efc2)]

    def forward(self, t, x, s):
        gc1, gc2, gc3, gfc1, gfc2 = masks = self.mask(t, s)
        h = self.maxpool(self.drop1(self.relu(self.c1(x)))) * gc1.view(1, -1, 1, 1)
        h = self.maxpool(self.drop1(self.relu(self.c2(h)))) * gc2.view(1, -1, 1, 1)
        h = self.maxpool(self.drop2(self.relu(self.c3(h)))) * gc3.view(1, -1, 1, 1)
        h = h.view(x.size(0), -1)
        h = self.drop2(self.relu(self.fc1(h))) * gfc1
        h = self.drop2(self.relu(self.fc2(h))) * gfc2
        return [self.last[i](h) for i, _ in self.taskcla], masks


HAT = ("hat", "hat-test")
MODULES = {("mlp", False): Mlp, ("mlp", True): MlpHat, ("alexnet", False): AlexNet, ("alexnet", True): AlexNetHat}


def fail(message):
    print(f"MISMATCH: {message}")
    sys.exit(1)


def check(model_path, expected_path):
    exported = torch.load(model_path, weights_only=True)
    expected = torch.load(expected_path, weights_only=True)
    approach, network = exported["approach"], exported["network"]
    taskcla = list(enumerate(exported["class_counts"]))
    net = MODULES[(network, approach in HAT)](exported["input_size"], taskcla)
    net.load_state_dict(exported["model"], strict=True)  # every name and shape the seed's
    net.eval()
    x = expected["x"]
    worst = 0.0
    with torch.no_grad():
        for t in range(exported["tasks_trained"]):
            if approach in HAT:
                scale = float(exported["scalars"]["mask_scale"])
                outputs, masks = net(torch.LongTensor([t]), x, s=scale)
                for layer, gate in zip(exported["state"]["masks"], masks):
                    stored = exported["state"]["masks"][layer][t]
                    if stored.shape != gate.view(-1).shape or not torch.allclose(stored, gate.view(-1), rtol=0, atol=1e-6):
                        difference = (stored - gate.view(-1)).abs().max().item() if stored.shape == gate.view(-1).shape else float("nan")
                        fail(f"{model_path}: task {t}'s {layer} mask differs from sigmoid(s * e) of the exported embedding by up to {difference:.3g}")
            else:
                outputs = net(x)
            ours, retains = outputs[t], expected["logits"][str(t)]
            if ours.shape != retains.shape:
                fail(f"{model_path}: task {t}'s logits have shape {tuple(ours.shape)}, Retain's {tuple(retains.shape)}")
            if not torch.allclose(ours, retains, rtol=RTOL, atol=ATOL):
                fail(f"{model_path}: task {t}'s logits differ from Retain's by up to {(ours - retains).abs().max().item():.3g}")
            if not torch.equal(ours.argmax(1), retains.argmax(1)):
                fail(f"{model_path}: task {t}'s predicted classes differ from Retain's")
            worst = max(worst, (ours - retains).abs().max().item())
    if approach == "ewc":
        fisher, anchor = exported["state"]["fisher"], exported["state"]["old_parameters"]
        if set(fisher) != set(exported["model"]) or set(anchor) != set(exported["model"]):
            fail(f"{model_path}: the Fisher diagonal and the anchor are not keyed by the model's parameter names")
        for name, value in exported["model"].items():
            if fisher[name].shape != value.shape or not torch.isfinite(fisher[name]).all() or (fisher[name] < 0).any():
                fail(f"{model_path}: the Fisher diagonal of {name} is not a finite non-negative tensor of its shape")
            # After the last task the anchor is the trained model itself.
            if not torch.equal(anchor[name], value):
                fail(f"{model_path}: the anchor of {name} is not the trained parameter")
            if not torch.isclose(fisher[name].double().sum(), expected["fisher_sums"][name], rtol=1e-6):
                fail(f"{model_path}: the Fisher diagonal of {name} sums to {fisher[name].double().sum()}, Retain's to {expected['fisher_sums'][name]}")
    print(f"ok {model_path}: {approach} on {network}, {exported['tasks_trained']} tasks, max |logit difference| {worst:.3g}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2:
        sys.exit(__doc__)
    for model, expected_logits in zip(arguments[::2], arguments[1::2]):
        check(model, expected_logits)
