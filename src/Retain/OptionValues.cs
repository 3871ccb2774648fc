using System.Globalization;

namespace Retain;

/// <summary>One-line errors about option values: a value that does not parse, or one out of its range.</summary>
public static class OptionValues
{
    /// <summary>What a value of <paramref name="type"/> looks like: "an integer", "a number", ... (nullable types as their value type).</summary>
    public static string Expected(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type == typeof(int) || type == typeof(long) ? "an integer"
            : type == typeof(double) || type == typeof(float) ? "a number"
            : type == typeof(bool) ? "true or false"
            : type == typeof(double[]) ? "numbers separated by commas"
            : type == typeof(int[]) ? "integers separated by commas"
            : type.IsEnum ? string.Join(" or ", Enum.GetNames(type)).ToLowerInvariant()
            : type.Name;
    }

    /// <summary><c>--name: expected an integer (got 'abc')</c>.</summary>
    public static RetainException Invalid(string option, Type type, string text) =>
        new($"{option}: expected {Expected(type)} (got '{text}')");

    /// <summary><c>--lamb must not be negative (got -5)</c> unless <paramref name="value"/> &gt;= 0.</summary>
    public static void RequireNotNegative(string option, double value) => Require(value >= 0, option, "must not be negative", value);

    public static void RequirePositive(string option, double value) => Require(value > 0, option, "must be positive", value);

    public static void RequireAtLeast(string option, double value, double minimum) =>
        Require(value >= minimum, option, $"must be at least {minimum.ToString(CultureInfo.InvariantCulture)}", value);

    public static void RequireAtMost(string option, double value, double maximum) =>
        Require(value <= maximum, option, $"must be at most {maximum.ToString(CultureInfo.InvariantCulture)}", value);

    private static void Require(bool ok, string option, string rule, double value)
    {
        if (!ok) throw new RetainException($"{option} {rule} (got {value.ToString(CultureInfo.InvariantCulture)})");
    }
}
