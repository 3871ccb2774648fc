using Retain.Data;

namespace Retain.Tests;

public class MnistJsonReaderTests : TempFolderTests
{
    private string Write(string text)
    {
        var path = Path.Combine(Folder, "d.json");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ReadsGreyLevelsBackToBytes()
    {
        // byte/255 written with three decimals: 1 -> 0.004, 128 -> 0.502, 255 -> 1; round(v*255) restores them.
        var values = Enumerable.Repeat("0", 784).ToArray();
        values[0] = "0.004"; values[1] = "0.502"; values[783] = "1";
        var pixels = MnistJsonReader.ReadDigitFile(Write($"{{\"data\":[{string.Join(",", values)}]}}"));
        Assert.Equal(784, pixels.Length);
        Assert.Equal((byte)1, pixels[0]);
        Assert.Equal((byte)128, pixels[1]);
        Assert.Equal((byte)255, pixels[783]);
    }

    [Theory]
    [InlineData("{\"data\":[0.5,0.5]}", "not a whole number of 28x28 images")]
    [InlineData("{\"data\":[2.5]}", "not a grey level in [0,1]")]
    [InlineData("{\"data\":[\"x\"]}", "not a grey level in [0,1]")]
    [InlineData("{\"other\":[]}", "no \"data\" array")]
    [InlineData("{\"data\":[0.1,", "invalid JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    public void MalformedFilesAreClearErrors(string text, string problem) =>
        Assert.Contains(problem, Assert.Throws<DataFileException>(() => MnistJsonReader.ReadDigitFile(Write(text))).Message);
}
