"""Models: shared ViT encoder, masked autoencoder, MoAE and the fine-tuning classifier."""

from s4d_fer.model.classifier import S4DClassifier
from s4d_fer.model.mae import MaskedAutoencoder, patchify, random_mask
from s4d_fer.model.moae import MoAE, MoAEBlock
from s4d_fer.model.pretrained import KeyMapReport, load_pretrained
from s4d_fer.model.vit import Encoder, TubeletEmbed, sinusoid_table
