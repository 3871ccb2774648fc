namespace Retain.Data;

/// <summary>
/// Reader for the pickled <c>{'features': array, 'labels': array}</c> dicts of three of the seed's datasets (written
/// by Python 3 with numpy; any pickle protocol). Each has its own array layout, turned into the channel-major
/// <see cref="ImageSet"/> exactly as the seed's loader + ToTensor would see it.
/// </summary>
public static class FeaturesPickleReader
{
    /// <summary>All three hold 32x32 images (the seed stacks them into <c>[N,3,32,32]</c>).</summary>
    private const int Side = 32;

    /// <summary>
    /// GTSRB, Udacity's "lab 2 data" (<c>train.p</c>, <c>test.p</c>): <c>features</c> uint8 <c>[N,32,32,3]</c> (HWC),
    /// <c>labels</c> <c>[N]</c> in 0..42 (any numpy integer type). Transposed to CHW.
    /// </summary>
    public static ImageSet ReadTrafficSigns(string path)
    {
        var (features, labels) = Read(path, classCount: 43, Side, Side, 3);
        int n = (int)features.Shape[0], h = Side, w = Side;
        var hwc = features.Data;
        var chw = new byte[hwc.Length];
        for (var i = 0; i < n; i++)
        {
            var image = i * h * w * 3;
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                    for (var c = 0; c < 3; c++)
                        chw[image + (c * h + y) * w + x] = hwc[image + (y * w + x) * 3 + c];
        }
        return new ImageSet(chw, labels, 3, h, w);
    }

    /// <summary>
    /// FaceScrub-100 (<c>facescrub_train_100.pkl</c>, <c>facescrub_test_100.pkl</c>): <c>features</c> int8
    /// <c>[N,3,32,32]</c> (cast to uint8), <c>labels</c> <c>[N]</c> in 0..99.
    /// <para><b>Quirk, reproduced on purpose:</b> the generator reshaped each 32x32x3 (HWC) face into 3x32x32 without
    /// transposing; the seed's loader transposes back to "HWC" before ToTensor, which transposes to CHW again. The
    /// tensor the network sees is therefore the stored 3072 bytes of each image in storage order, read as CHW (a
    /// scrambled face). So the pixels here are the stored bytes, unchanged.</para>
    /// </summary>
    public static ImageSet ReadFaceScrub(string path)
    {
        var (features, labels) = Read(path, classCount: 100, 3, Side, Side);
        return new ImageSet(features.Data, labels, 3, Side, Side);
    }

    /// <summary>
    /// notMNIST (<c>notmnist_train.pkl</c>, <c>notmnist_test.pkl</c>): <c>features</c> uint8 <c>[N,1,32,32]</c>,
    /// <c>labels</c> uint8 in 0..9 (letters A-J). As the seed's loader, takes channel 0 as a grey image (C = 1).
    /// </summary>
    public static ImageSet ReadNotMnist(string path)
    {
        var (features, labels) = Read(path, classCount: 10, -1, Side, Side);
        int n = (int)features.Shape[0], channels = (int)features.Shape[1], h = Side, w = Side;
        if (channels == 1) return new ImageSet(features.Data, labels, 1, h, w);
        var gray = new byte[(long)n * h * w];
        for (var i = 0; i < n; i++)
            Array.Copy(features.Data, (long)i * channels * h * w, gray, (long)i * h * w, h * w);
        return new ImageSet(gray, labels, 1, h, w);
    }

    private static (NumpyArray Features, byte[] Labels) Read(string path, int classCount, params int[] imageShape)
    {
        var dict = NumpyPickle.LoadDict(path);
        var features = NumpyPickle.ImageArray(path, NumpyPickle.Entry(path, dict, "features"), "features", imageShape);
        var labels = NumpyPickle.Labels(path, NumpyPickle.Entry(path, dict, "labels"), "labels", features.Shape[0], classCount);
        return (features, labels);
    }
}
