import torch

from debristrack.sdtnet.losses import embedding_losses, focal_loss, gather, l1_at, seg_loss


def _target():
    t = torch.zeros(1, 2, 8, 8)
    t[0, 0, 2, 3] = 1.0
    t[0, 0, 2, 4] = 0.5
    t[0, 1, 5, 6] = 1.0
    return t


def test_gather():
    maps = torch.arange(2 * 3 * 4.0).reshape(1, 2, 3, 4)
    got = gather(maps, torch.tensor([[5, 0]]))
    assert got.tolist() == [[[5.0, 17.0], [0.0, 12.0]]]


def test_focal_minimal_on_perfect_prediction():
    t = _target()
    perfect = torch.where(t == 1, 20.0, -20.0)
    wrong = torch.where(t == 1, -20.0, 20.0)
    assert focal_loss(perfect, t) < 1e-3
    assert focal_loss(wrong, t) > 10 * focal_loss(perfect, t) + 1.0


def test_seg_loss():
    m = torch.zeros(1, 1, 4, 4)
    m[0, 0, 1:3, 1:3] = 1
    assert seg_loss(torch.where(m > 0, 30.0, -30.0), m) < 1e-6
    assert seg_loss(torch.zeros_like(m), m) > 0.69


def test_embedding_pull_push():
    emb = torch.zeros(1, 2, 4, 4)  # D = 1: left channel 0, right channel 1
    ind_l, ind_r, obj = torch.tensor([[0, 5]]), torch.tensor([[3, 10]]), torch.tensor([[1.0, 1.0]])
    emb.view(1, 2, -1)[0, 0, [0, 5]] = torch.tensor([0.0, 2.0])
    emb.view(1, 2, -1)[0, 1, [3, 10]] = torch.tensor([0.0, 2.0])
    same, diff = embedding_losses(emb, ind_l, ind_r, obj)
    assert same == 0 and diff == 0  # pairs agree, centres 2 > Delta apart
    emb.view(1, 2, -1)[0, 1, 10] = 0.0  # object 2's right end now looks like object 1
    same, diff = embedding_losses(emb, ind_l, ind_r, obj)
    assert torch.isclose(same, torch.tensor(1.0))  # eq. 11: (1^2 + 1^2) / 2 objects
    assert diff == 0  # eq. 12: centres 0 and 1 are Delta = 1 apart
    emb.view(1, 2, -1)[0, 0, 5] = 0.0  # object 2 now has object 1's embedding
    same, diff = embedding_losses(emb, ind_l, ind_r, obj)
    assert same == 0 and diff == 1.0  # eq. 12: 2 ordered pairs x max(0, 1 - 0) / (2 x 1)


def test_l1_only_on_weighted_slots():
    maps = torch.zeros(1, 4, 4, 4)
    target = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [9.0, 9.0, 9.0, 9.0]]])
    ind = torch.tensor([[0, 1]])
    assert l1_at(maps, ind, ind, target, torch.tensor([[1.0, 0.0]])) == 1.0
    maps.view(1, 4, -1)[0, :, 0] = 1.0
    assert l1_at(maps, ind, ind, target, torch.tensor([[1.0, 0.0]])) == 0.0


def test_total_loss_perfect_below_wrong(tiny_config):
    from debristrack.sdtnet.data import collate, make_sample
    from debristrack.sdtnet.losses import total_loss
    from debristrack.simulate import iter_frames, make_scene

    scene = make_scene("sidereal", "sdtd", size=128, frames=2, objects=(3, 3), length=(20.0, 30.0),
                       min_separation=40.0, gap_prob=0.0)
    batch = collate([make_sample(*iter_frames(scene, seed=1))])
    n = int(batch["obj"].sum())
    assert n == 3 and len(set(batch["ind_l"][0, :n].tolist() + batch["ind_r"][0, :n].tolist())) == 2 * n
    d = tiny_config.emb_dim
    perfect = {"hm": torch.where(batch["hm"] == 1, 20.0, -20.0), "mask": torch.where(batch["mask"] > 0, 30.0, -30.0),
               "emb": torch.zeros(1, 2 * d, 32, 32), "reg": torch.zeros(1, 4, 32, 32), "off": torch.zeros(1, 4, 32, 32)}
    for key in ("reg", "off"):
        for k in range(n):
            for side, cells in ((0, batch["ind_l"]), (1, batch["ind_r"])):
                perfect[key].view(1, 4, -1)[0, 2 * side:2 * side + 2, cells[0, k]] = batch[key][0, k, 2 * side:2 * side + 2]
    for k in range(n):  # embeddings 1 + Delta apart per object
        perfect["emb"].view(1, 2 * d, -1)[0, :d, batch["ind_l"][0, k]] = 2.0 * k
        perfect["emb"].view(1, 2 * d, -1)[0, d:, batch["ind_r"][0, k]] = 2.0 * k
    wrong = {k: -v if k in ("hm", "mask") else v + 1.0 for k, v in perfect.items()}
    good, parts = total_loss(perfect, batch)
    bad, _ = total_loss(wrong, batch)
    assert good < 0.05 and bad > 10 * good + 1.0
