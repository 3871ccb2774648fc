namespace Retain.Data;

/// <summary>
/// Reader for SVHN's cropped digits (<c>train_32x32.mat</c>, <c>test_32x32.mat</c>, MATLAB 5 MAT-files):
/// <c>X</c> uint8 <c>[32,32,3,N]</c> in MATLAB's column-major order and <c>y</c> <c>[N,1]</c> with labels 1..10,
/// where 10 means the digit 0. As modern torchvision (which the seed's fork relies on), 10 becomes 0, and each image
/// becomes channel-major: pixel (channel c, row r, column x) of image n is <c>X(r, x, c, n)</c>.
/// </summary>
internal static class SvhnReader
{
    private const int Side = 32, Channels = 3;

    public static ImageSet Read(string path)
    {
        var variables = MatFile.Read(path, "X", "y");
        var x = variables["X"];
        var y = variables["y"];
        if (x.Class != MatClass.UInt8) throw new DataFileException(path, $"'X' is a {x.Class} array, expected uint8");
        // MATLAB drops trailing singleton dimensions: one image is stored as 32x32x3.
        var dims = x.Dimensions;
        var count = dims.Length == 4 ? dims[3] : dims.Length == 3 ? 1 : -1;
        if (count < 1 || dims[0] != Side || dims[1] != Side || dims[2] != Channels)
            throw new DataFileException(path, $"'X' is {x.DimensionsText}, expected 32x32x3xN");
        var columnMajor = x.ToBytes() ?? throw new DataFileException(path, "'X' holds values outside 0..255");

        if (y.Count != count || !(y.Dimensions.Length == 2 && (y.Dimensions[1] == 1 || y.Dimensions[0] == 1)))
            throw new DataFileException(path, $"'y' is {y.DimensionsText}, expected {count}x1 (one label per image of 'X')");
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var label = y.ValueAt(i);
            if (!(label >= 1 && label <= 10 && Math.Floor(label) == label))
                throw new DataFileException(path, $"label {label} at index {i} of 'y' is not one of 1..10");
            labels[i] = (byte)(label == 10 ? 0 : label);
        }

        const int plane = Side * Side, image = Channels * plane;
        var pixels = new byte[columnMajor.LongLength];
        for (var n = 0; n < count; n++)
            for (var c = 0; c < Channels; c++)
            {
                var offset = (long)n * image + c * plane;
                for (var column = 0; column < Side; column++)
                    for (var row = 0; row < Side; row++)
                        pixels[offset + row * Side + column] = columnMajor[offset + column * Side + row];
            }
        return new ImageSet(pixels, labels, Channels, Side, Side);
    }
}
