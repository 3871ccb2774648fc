using Retain.Networks.Dwa;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

/// <summary>
/// The seed's <c>weight_init</c> option (README §6.1): <c>CONV[,CONVBIAS]:LINEAR[,LINEARBIAS]</c>. The first part
/// configures convolutions, the last part linear layers (a single part applies to both); bias schemes default to
/// zeros. Schemes: xavier (Glorot uniform), kaiming (He normal, fan-in, ReLU gain), normal N(0,1), uniform U[0,1),
/// ones, zeros. Applied to every convolution and linear layer, masked ones included (heads, DWA mask generators and
/// processor too). The published DWA runs all use <c>kaiming:xavier</c>.
/// </summary>
public sealed record WeightInitialisation(string ConvWeight, string ConvBias, string LinearWeight, string LinearBias)
{
    private static readonly string[] Schemes = ["xavier", "kaiming", "normal", "uniform", "ones", "zeros"];

    /// <summary>Null for empty text or "none".</summary>
    public static WeightInitialisation? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        var parts = text.Split(':');
        var (convWeight, convBias) = Part(parts[0], text);
        var (linearWeight, linearBias) = Part(parts[^1], text);
        if (parts.Length > 2) throw new RetainException($"--weight_init: expected CONV[,BIAS]:LINEAR[,BIAS] such as kaiming:xavier (got '{text}')");
        return new WeightInitialisation(convWeight, convBias, linearWeight, linearBias);
    }

    private static (string Weight, string Bias) Part(string part, string text)
    {
        var fields = part.Split(',', StringSplitOptions.TrimEntries);
        if (fields.Length > 2 || fields.Any(f => !Schemes.Contains(f)))
            throw new RetainException($"--weight_init: '{part}' is not SCHEME[,BIAS_SCHEME] with schemes {string.Join(", ", Schemes)} (in '{text}')");
        var bias = fields.Length > 1 ? fields[1] : "zeros";
        // Fan-based schemes need a weight matrix; the seed failed on them for the 1-D bias.
        if (bias is "xavier" or "kaiming")
            throw new RetainException($"--weight_init: the bias scheme cannot be {bias} (it needs a 2-D weight; in '{text}')");
        return (fields[0], bias);
    }

    public void Apply(Module network)
    {
        using var _ = no_grad();
        foreach (var module in network.modules())
        {
            var (weight, bias, isConv) = module switch
            {
                Conv2d c => (c.weight, c.bias, true),
                MaskedConv2d c => (c.Weight, c.Bias, true),
                Linear l => (l.weight, l.bias, false),
                MaskedLinear l => (l.Weight, l.Bias, false),
                _ => (null, null, false),
            };
            if (weight is null) continue;
            Fill(weight, isConv ? ConvWeight : LinearWeight);
            if (bias is not null) Fill(bias, isConv ? ConvBias : LinearBias);
        }
    }

    private static void Fill(Tensor tensor, string scheme)
    {
        switch (scheme)
        {
            case "xavier": init.xavier_uniform_(tensor); break;
            case "kaiming": init.kaiming_normal_(tensor, mode: init.FanInOut.FanIn, nonlinearity: init.NonlinearityType.ReLU); break;
            case "normal": init.normal_(tensor); break;
            case "uniform": init.uniform_(tensor); break;
            case "ones": init.ones_(tensor); break;
            default: init.zeros_(tensor); break;
        }
    }

    public override string ToString() =>
        $"{ConvWeight}{(ConvBias == "zeros" ? "" : "," + ConvBias)}:{LinearWeight}{(LinearBias == "zeros" ? "" : "," + LinearBias)}";
}
