using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Retain.Networks;

public enum InitScheme { Xavier, Kaiming, Normal, Uniform, Ones, Zeros }

/// <summary>
/// A layer whose weight and bias the <c>--weight-init</c> option sets, besides TorchSharp's Linear and Conv2d
/// (DWA's masked layers implement it).
/// </summary>
internal interface IWeightLayer
{
    Parameter Weight { get; }
    Parameter? Bias { get; }
    bool IsConvolution { get; }
}

/// <summary>
/// The seed's <c>--weight_init</c> grammar <c>CONV[,CONVBIAS]:LINEAR[,LINEARBIAS]</c>: the first part sets every
/// convolution, the last part every linear layer (so one part sets both); the bias scheme defaults to zeros.
/// Schemes: xavier (Glorot uniform, gain 1), kaiming (He normal, fan-in, ReLU gain), normal N(0,1), uniform U[0,1),
/// ones, zeros. Heads, mask generators and processors are layers too; embedding tables are never touched.
/// Without the option layers keep TorchSharp's defaults (those of PyTorch).
/// </summary>
public sealed record WeightInit(InitScheme ConvWeight, InitScheme ConvBias, InitScheme LinearWeight, InitScheme LinearBias)
{
    public static WeightInit? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split(':');
        if (parts.Length > 2) throw Error(text, "at most two parts, CONV:LINEAR");
        var (convWeight, convBias) = ParsePart(parts[0], text);
        var (linearWeight, linearBias) = ParsePart(parts[^1], text);
        return new WeightInit(convWeight, convBias, linearWeight, linearBias);
    }

    private static (InitScheme Weight, InitScheme Bias) ParsePart(string part, string text)
    {
        var schemes = part.Split(',');
        if (schemes.Length > 2) throw Error(text, $"'{part}' has more than WEIGHT,BIAS");
        var weight = Scheme(schemes[0], text);
        var bias = schemes.Length == 2 ? Scheme(schemes[1], text) : InitScheme.Zeros;
        if (bias is InitScheme.Xavier or InitScheme.Kaiming)
            throw Error(text, $"{bias.ToString().ToLowerInvariant()} needs a fan-in and fan-out, a bias has neither (use zeros, ones, normal or uniform)");
        return (weight, bias);
    }

    private static InitScheme Scheme(string name, string text) =>
        Enum.TryParse<InitScheme>(name.Trim(), ignoreCase: true, out var scheme) && !int.TryParse(name, out _)
            ? scheme
            : throw Error(text, $"unknown scheme '{name}' (xavier, kaiming, normal, uniform, ones, zeros)");

    private static RetainException Error(string text, string problem) => new($"--weight-init '{text}': {problem}");

    /// <summary>Initialises every convolution and linear layer below <paramref name="root"/>, in module order.</summary>
    public void Apply(Module root)
    {
        using var _ = no_grad();
        foreach (var (_, module) in root.named_modules())
        {
            var (weight, bias, conv) = module switch
            {
                Conv2d c => (c.weight!, c.bias, true),
                Linear l => (l.weight!, l.bias, false),
                IWeightLayer w => (w.Weight, w.Bias, w.IsConvolution),
                _ => (null, null, false),
            };
            if (weight is null) continue;
            Fill(weight, conv ? ConvWeight : LinearWeight);
            if (bias is not null) Fill(bias, conv ? ConvBias : LinearBias);
        }
    }

    private static void Fill(Tensor t, InitScheme scheme)
    {
        switch (scheme)
        {
            case InitScheme.Xavier: init.xavier_uniform_(t); break;
            case InitScheme.Kaiming: init.kaiming_normal_(t, mode: init.FanInOut.FanIn, nonlinearity: init.NonlinearityType.ReLU); break;
            case InitScheme.Normal: init.normal_(t); break;
            case InitScheme.Uniform: init.uniform_(t); break;
            case InitScheme.Ones: init.ones_(t); break;
            case InitScheme.Zeros: init.zeros_(t); break;
        }
    }

    public override string ToString()
    {
        static string N(InitScheme s) => s.ToString().ToLowerInvariant();
        return $"{N(ConvWeight)},{N(ConvBias)}:{N(LinearWeight)},{N(LinearBias)}";
    }
}
