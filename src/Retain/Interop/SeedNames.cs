using System.Text.RegularExpressions;
using Retain.Networks;
using Retain.Networks.Dwa;
using static TorchSharp.torch;

namespace Retain.Interop;

/// <summary>
/// The name each tensor of a network has in the seed's PyTorch code (the HAT and DWA code bases), so that a state dict
/// written under these names loads into the seed's modules with <c>load_state_dict(..., strict=True)</c>:
/// <list type="bullet">
/// <item>Retain's <c>backbone.</c> and <c>backbone.gating.</c> prefixes are dropped; heads stay <c>last.&lt;task&gt;.*</c>.</item>
/// <item>The plain networks (alexnet, alexnet_lfl, and the columns and modules of alexnet_progressive and
/// alexnet_pathnet) call their convolutions <c>conv1..conv3</c>; alexnet_hat and alexnet_dwa call them <c>c1..c3</c>,
/// as Retain does. Dense layers are <c>fc1..</c> everywhere; HAT's embeddings <c>ec1.., efc1..</c>.</item>
/// <item>DWA: the context processor's layers <c>pc1, pc2, pfc1..</c>; the mask generators <c>mask_layers.&lt;i&gt;</c> in the
/// order of the masked layers, a factorised one as <c>mask_layers.&lt;i&gt;.0</c> (A: E → f1) and <c>.1</c> (Bm: E → f2).</item>
/// <item>Progressive: the adapters into block <c>c&lt;k&gt;</c> are <c>V&lt;k&gt;scale</c>, <c>V&lt;k&gt;x1</c>, <c>U&lt;k&gt;</c>; into
/// <c>fc&lt;k&gt;</c> <c>Vf&lt;k&gt;scale</c>, <c>Vf&lt;k&gt;</c>, <c>Uf&lt;k&gt;</c>; into the heads <c>Vflscale</c>, <c>Vfl</c>, <c>Ufl</c>.
/// The seed's scales are <c>Embedding(1, c)</c> tables, so the scale vector α (c) is written as a 1 × c matrix.</item>
/// </list>
/// Networks the seed does not have (the MLP with progressive columns, PathNet modules or DWA masks; a registered
/// backbone) follow the same rules; a layer name outside them keeps Retain's name. A module of the user's own
/// (<see cref="ModuleBackbone"/>) keeps its own parameter names, beside the heads <c>last.&lt;task&gt;.*</c>.
/// </summary>
internal sealed partial class SeedNames
{
    private readonly Dictionary<string, string> _toSeed = [];
    private readonly Dictionary<string, string> _toRetain = [];
    private readonly HashSet<string> _rowMatrices = [];

    private SeedNames(MultiHeadNetwork network)
    {
        var backbone = network.Backbone;
        foreach (var name in Tensors(network).Keys)
        {
            var (seed, rowMatrix) = SeedName(name, backbone);
            if (!_toRetain.TryAdd(seed, name))
                throw new InvalidOperationException($"{name} and {_toRetain[seed]} would both be written as {seed}");
            _toSeed[name] = seed;
            if (rowMatrix) _rowMatrices.Add(name);
        }
    }

    /// <summary>
    /// The network's parameters and buffers by Retain's name, in the network's order. Not <c>state_dict()</c>: it also
    /// lists a module again under the backing field of a property that exposes it (<c>backbone.&lt;Gating&gt;k__BackingField.*</c>).
    /// </summary>
    public static Dictionary<string, Tensor> Tensors(MultiHeadNetwork network)
    {
        var tensors = network.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        foreach (var (name, buffer) in network.named_buffers()) tensors[name] = buffer;
        return tensors;
    }

    /// <summary>The naming of <paramref name="network"/>'s parameters and buffers.</summary>
    public static SeedNames For(MultiHeadNetwork network) => new(network);

    /// <summary>Retain's names, in the network's order.</summary>
    public IEnumerable<string> RetainNames => _toSeed.Keys;

    public bool IsTensorOfTheNetwork(string retainName) => _toSeed.ContainsKey(retainName);

    public string ToSeed(string retainName) => _toSeed[retainName];

    /// <summary>Retain's name of the seed's <paramref name="seedName"/>, or null when the network has no such tensor.</summary>
    public string? ToRetain(string seedName) => _toRetain.GetValueOrDefault(seedName);

    /// <summary>The tensor as the seed's module holds it (a view; progressive's scales gain a leading dimension of 1).</summary>
    public Tensor ToSeedShape(string retainName, Tensor value) => _rowMatrices.Contains(retainName) ? value.unsqueeze(0) : value.alias();

    private static (string Name, bool RowMatrix) SeedName(string name, Backbone backbone)
    {
        const string gatingPrefix = "backbone.gating.", backbonePrefix = "backbone.";
        if (name.StartsWith(gatingPrefix, StringComparison.Ordinal))
        {
            var rest = name[gatingPrefix.Length..];
            return backbone.Gating switch
            {
                DwaWeightMasks dwa => (DwaName(rest, dwa), false),
                ProgressiveColumns => ProgressiveName(rest, backbone),
                _ => (rest, false),
            };
        }
        if (!name.StartsWith(backbonePrefix, StringComparison.Ordinal)) return (name, false);
        var inBackbone = name[backbonePrefix.Length..];
        // A module of the user's keeps its own names.
        if (backbone.IsModule) return (inBackbone[(Backbone.ModuleName.Length + 1)..], false);
        // Only the seed's HAT and DWA networks name their convolutions c1..c3.
        if (backbone.Gating is HatUnitGates or DwaWeightMasks) return (inBackbone, false);
        var dot = inBackbone.IndexOf('.');
        var layer = dot < 0 ? inBackbone : inBackbone[..dot];
        var spec = backbone.Specs.FirstOrDefault(s => s.Name == layer);
        return spec is { IsConvolution: true } && ConvolutionName().Match(layer) is { Success: true } m
            ? ("conv" + m.Groups[1].Value + inBackbone[layer.Length..], false)
            : (inBackbone, false);
    }

    /// <summary><c>processor.pc1.weight</c> → <c>pc1.weight</c>; <c>mask_fc1.columns.weight</c> → <c>mask_layers.&lt;i&gt;.0.weight</c>.</summary>
    private static string DwaName(string rest, DwaWeightMasks dwa)
    {
        const string processor = "processor.";
        if (rest.StartsWith(processor, StringComparison.Ordinal)) return rest[processor.Length..];
        var masked = dwa.MaskedLayers;
        for (var i = 0; i < masked.Count; i++)
        {
            var prefix = $"mask_{masked[i]}.";
            if (!rest.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var tail = rest[prefix.Length..];
            if (tail.StartsWith("columns.", StringComparison.Ordinal)) return $"mask_layers.{i}.0.{tail["columns.".Length..]}";
            if (tail.StartsWith("rows.", StringComparison.Ordinal)) return $"mask_layers.{i}.1.{tail["rows.".Length..]}";
            return $"mask_layers.{i}.{tail}";
        }
        return rest;
    }

    /// <summary><c>lateral_c2.0.alpha</c> → <c>V2scale.0.weight</c>; <c>lateral_fc1.1.V.weight</c> → <c>Vf1.1.weight</c>; <c>lateral_head.0.U.bias</c> → <c>Ufl.0.bias</c>.</summary>
    private static (string, bool) ProgressiveName(string rest, Backbone backbone)
    {
        var m = LateralName().Match(rest);
        if (!m.Success) return (rest, false);
        var (layer, column, part, tail) = (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value);
        string? suffix = null;
        var convolution = false;
        if (layer == "head") suffix = "fl";
        else if (backbone.Specs.FirstOrDefault(s => s.Name == layer) is { } spec)
        {
            convolution = spec.IsConvolution;
            if (convolution && ConvolutionName().Match(layer) is { Success: true } c) suffix = c.Groups[1].Value;
            else if (!convolution && DenseName().Match(layer) is { Success: true } d) suffix = "f" + d.Groups[1].Value;
        }
        if (suffix is null) return (rest, false);
        return part switch
        {
            "alpha" => ($"V{suffix}scale.{column}.weight", true),
            "V" => ($"V{suffix}{(convolution ? "x1" : "")}.{column}{tail}", false),
            _ => ($"U{suffix}.{column}{tail}", false),
        };
    }

    [GeneratedRegex(@"^c(\d+)$")]
    private static partial Regex ConvolutionName();

    [GeneratedRegex(@"^fc(\d+)$")]
    private static partial Regex DenseName();

    [GeneratedRegex(@"^lateral_([^.]+)\.(\d+)\.(alpha|V|U)(.*)$")]
    private static partial Regex LateralName();
}
