using Rebased.IO;

namespace Rebased.Tests.IO;

public class SafeTensorsTests
{
    public SafeTensorsTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void RoundTripKeepsNamesDtypesShapesAndValues()
    {
        var path = Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}.safetensors");
        try
        {
            var tensors = new Dictionary<string, Tensor>
            {
                ["w"] = arange(12, ScalarType.Float32).reshape(3, 4) / 7,
                ["ids"] = tensor(new long[] { -100, 5, 8191 }),
                ["scalar"] = tensor(2.5f),
            };
            SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
            var back = SafeTensors.Load(path);
            Assert.Equal(new[] { "w", "ids", "scalar" }, back.Keys);
            foreach (var (name, t) in tensors)
            {
                Assert.Equal(t.dtype, back[name].dtype);
                Assert.Equal(t.shape, back[name].shape);
                Assert.True(t.eq(back[name]).all().item<bool>(), name);
            }
            Assert.Equal("pt", SafeTensors.LoadMetadata(path)["format"]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadsTheReferenceFixture()
    {
        var t = SafeTensors.Load(Path.Combine(AppContext.BaseDirectory, "TestData", "models", "rebased", "outputs.safetensors"));
        Assert.Equal(new long[] { 2, 64, 512 }, t["logits"].shape);
        Assert.Equal(6.2267289f, t["loss"].item<float>(), 5);
    }

    [Fact]
    public void TruncatedFileGivesAClearError()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[] { 200, 0, 0, 0, 0, 0, 0, 0, (byte)'{' });
            var e = Assert.Throws<UserError>(() => SafeTensors.Load(path));
            Assert.Contains("header length", e.Message);
        }
        finally { File.Delete(path); }
    }
}
