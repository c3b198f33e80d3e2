"""BibTeX of the papers mmcontrast's components implement (a leaf module: it imports nothing).

Each component carries its own ``citation`` class attribute (as sentence-transformers' losses do); the strings
live here so that the components implementing the same paper (a view, its objective, its encoder) cite it
identically. A string may hold several entries. The model card lists the citations of a run's components.
"""

from __future__ import annotations

ALBERT = """@inproceedings{lan2020albert,
  title = {{ALBERT}: A Lite {BERT} for Self-supervised Learning of Language Representations},
  author = {Lan, Zhenzhong and Chen, Mingda and Goodman, Sebastian and Gimpel, Kevin and Sharma, Piyush and
            Soricut, Radu},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2020}
}"""

ALIGN_UNIFORM = """@inproceedings{wang2020understanding,
  title = {Understanding Contrastive Representation Learning through Alignment and Uniformity on the Hypersphere},
  author = {Wang, Tongzhou and Isola, Phillip},
  booktitle = {Proceedings of the 37th International Conference on Machine Learning (ICML)},
  year = {2020}
}"""

BART = """@inproceedings{lewis2020bart,
  title = {{BART}: Denoising Sequence-to-Sequence Pre-training for Natural Language Generation, Translation, and
           Comprehension},
  author = {Lewis, Mike and Liu, Yinhan and Goyal, Naman and Ghazvininejad, Marjan and Mohamed, Abdelrahman and
            Levy, Omer and Stoyanov, Veselin and Zettlemoyer, Luke},
  booktitle = {Proceedings of the 58th Annual Meeting of the Association for Computational Linguistics (ACL)},
  year = {2020}
}"""

BARLOW_TWINS = """@inproceedings{zbontar2021barlow,
  title = {Barlow Twins: Self-Supervised Learning via Redundancy Reduction},
  author = {Zbontar, Jure and Jing, Li and Misra, Ishan and LeCun, Yann and Deny, St{\\'e}phane},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}"""

BATCH_HARD = """@article{hermans2017defense,
  title = {In Defense of the Triplet Loss for Person Re-Identification},
  author = {Hermans, Alexander and Beyer, Lucas and Leibe, Bastian},
  journal = {arXiv preprint arXiv:1703.07737},
  year = {2017}
}"""

BYOL = """@inproceedings{grill2020byol,
  title = {Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning},
  author = {Grill, Jean-Bastien and Strub, Florian and Altch{\\'e}, Florent and Tallec, Corentin and
            Richemond, Pierre H. and Buchatskaya, Elena and Doersch, Carl and Pires, Bernardo Avila and
            Guo, Zhaohan Daniel and Azar, Mohammad Gheshlaghi and Piot, Bilal and Kavukcuoglu, Koray and
            Munos, R{\\'e}mi and Valko, Michal},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2020}
}"""

CIRCLE = """@inproceedings{sun2020circle,
  title = {Circle Loss: A Unified Perspective of Pair Similarity Optimization},
  author = {Sun, Yifan and Cheng, Changmao and Zhang, Yuhan and Zhang, Chi and Zheng, Liang and Wang, Zhongdao and
            Wei, Yichen},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2020}
}"""

CLIP = """@inproceedings{radford2021clip,
  title = {Learning Transferable Visual Models From Natural Language Supervision},
  author = {Radford, Alec and Kim, Jong Wook and Hallacy, Chris and Ramesh, Aditya and Goh, Gabriel and
            Agarwal, Sandhini and Sastry, Girish and Askell, Amanda and Mishkin, Pamela and Clark, Jack and
            Krueger, Gretchen and Sutskever, Ilya},
  booktitle = {Proceedings of the 38th International Conference on Machine Learning (ICML)},
  year = {2021}
}"""

CPC = """@article{oord2018cpc,
  title = {Representation Learning with Contrastive Predictive Coding},
  author = {van den Oord, Aaron and Li, Yazhe and Vinyals, Oriol},
  journal = {arXiv preprint arXiv:1807.03748},
  year = {2018}
}"""

DINO = """@inproceedings{caron2021dino,
  title = {Emerging Properties in Self-Supervised Vision Transformers},
  author = {Caron, Mathilde and Touvron, Hugo and Misra, Ishan and J{\\'e}gou, Herv{\\'e} and Mairal, Julien and
            Bojanowski, Piotr and Joulin, Armand},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year = {2021}
}"""

DPR = """@inproceedings{karpukhin2020dpr,
  title = {Dense Passage Retrieval for Open-Domain Question Answering},
  author = {Karpukhin, Vladimir and O{\\u{g}}uz, Barlas and Min, Sewon and Lewis, Patrick and Wu, Ledell and
            Edunov, Sergey and Chen, Danqi and Yih, Wen-tau},
  booktitle = {Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year = {2020}
}"""

FACENET = """@inproceedings{schroff2015facenet,
  title = {{FaceNet}: A Unified Embedding for Face Recognition and Clustering},
  author = {Schroff, Florian and Kalenichenko, Dmitry and Philbin, James},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2015}
}"""

HADSELL = """@inproceedings{hadsell2006dimensionality,
  title = {Dimensionality Reduction by Learning an Invariant Mapping},
  author = {Hadsell, Raia and Chopra, Sumit and LeCun, Yann},
  booktitle = {IEEE Computer Society Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2006}
}"""

ICT = """@inproceedings{lee2019latent,
  title = {Latent Retrieval for Weakly Supervised Open Domain Question Answering},
  author = {Lee, Kenton and Chang, Ming-Wei and Toutanova, Kristina},
  booktitle = {Proceedings of the 57th Annual Meeting of the Association for Computational Linguistics (ACL)},
  year = {2019}
}"""

INSTANCE_DISCRIMINATION = """@inproceedings{wu2018unsupervised,
  title = {Unsupervised Feature Learning via Non-Parametric Instance Discrimination},
  author = {Wu, Zhirong and Xiong, Yuanjun and Yu, Stella X. and Lin, Dahua},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2018}
}"""

LIFTED_STRUCTURED = """@inproceedings{oh2016lifted,
  title = {Deep Metric Learning via Lifted Structured Feature Embedding},
  author = {Oh Song, Hyun and Xiang, Yu and Jegelka, Stefanie and Savarese, Silvio},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2016}
}"""

MOCO = """@inproceedings{he2020moco,
  title = {Momentum Contrast for Unsupervised Visual Representation Learning},
  author = {He, Kaiming and Fan, Haoqi and Wu, Yuxin and Xie, Saining and Girshick, Ross},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2020}
}"""

MULTI_SIMILARITY = """@inproceedings{wang2019multi,
  title = {Multi-Similarity Loss with General Pair Weighting for Deep Metric Learning},
  author = {Wang, Xun and Han, Xintong and Huang, Weilin and Dong, Dengke and Scott, Matthew R.},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2019}
}"""

NCE = """@inproceedings{gutmann2010nce,
  title = {Noise-Contrastive Estimation: A New Estimation Principle for Unnormalized Statistical Models},
  author = {Gutmann, Michael and Hyv{\\"a}rinen, Aapo},
  booktitle = {Proceedings of the Thirteenth International Conference on Artificial Intelligence and Statistics
               (AISTATS)},
  year = {2010}
}"""

N_PAIR = """@inproceedings{sohn2016npair,
  title = {Improved Deep Metric Learning with Multi-class N-pair Loss Objective},
  author = {Sohn, Kihyuk},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2016}
}"""

PIRL = """@inproceedings{misra2020pirl,
  title = {Self-Supervised Learning of Pretext-Invariant Representations},
  author = {Misra, Ishan and van der Maaten, Laurens},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2020}
}"""

QUICK_THOUGHTS = """@inproceedings{logeswaran2018efficient,
  title = {An Efficient Framework for Learning Sentence Representations},
  author = {Logeswaran, Lajanugen and Lee, Honglak},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2018}
}"""

ROTATION = """@inproceedings{gidaris2018rotation,
  title = {Unsupervised Representation Learning by Predicting Image Rotations},
  author = {Gidaris, Spyros and Singh, Praveer and Komodakis, Nikos},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2018}
}"""

SIGLIP = """@inproceedings{zhai2023siglip,
  title = {Sigmoid Loss for Language Image Pre-Training},
  author = {Zhai, Xiaohua and Mustafa, Basil and Kolesnikov, Alexander and Beyer, Lucas},
  booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
  year = {2023}
}"""

SIMCLR = """@inproceedings{chen2020simclr,
  title = {A Simple Framework for Contrastive Learning of Visual Representations},
  author = {Chen, Ting and Kornblith, Simon and Norouzi, Mohammad and Hinton, Geoffrey},
  booktitle = {Proceedings of the 37th International Conference on Machine Learning (ICML)},
  year = {2020}
}"""

SIMCSE = """@inproceedings{gao2021simcse,
  title = {{SimCSE}: Simple Contrastive Learning of Sentence Embeddings},
  author = {Gao, Tianyu and Yao, Xingcheng and Chen, Danqi},
  booktitle = {Proceedings of the 2021 Conference on Empirical Methods in Natural Language Processing (EMNLP)},
  year = {2021}
}"""

SIMSIAM = """@inproceedings{chen2021simsiam,
  title = {Exploring Simple Siamese Representation Learning},
  author = {Chen, Xinlei and He, Kaiming},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2021}
}"""

SOFT_NEAREST_NEIGHBOUR = """@inproceedings{frosst2019analyzing,
  title = {Analyzing and Improving Representations with the Soft Nearest Neighbor Loss},
  author = {Frosst, Nicholas and Papernot, Nicolas and Hinton, Geoffrey},
  booktitle = {Proceedings of the 36th International Conference on Machine Learning (ICML)},
  year = {2019}
}"""

SUPCON = """@inproceedings{khosla2020supcon,
  title = {Supervised Contrastive Learning},
  author = {Khosla, Prannay and Teterwak, Piotr and Wang, Chen and Sarna, Aaron and Tian, Yonglong and
            Isola, Phillip and Maschinot, Aaron and Liu, Ce and Krishnan, Dilip},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2020}
}"""

SWAV = """@inproceedings{caron2020swav,
  title = {Unsupervised Learning of Visual Features by Contrasting Cluster Assignments},
  author = {Caron, Mathilde and Misra, Ishan and Mairal, Julien and Goyal, Priya and Bojanowski, Piotr and
            Joulin, Armand},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2020}
}"""

TITLE_BODY = """@inproceedings{chang2020pretraining,
  title = {Pre-training Tasks for Embedding-based Large-scale Retrieval},
  author = {Chang, Wei-Cheng and Yu, Felix X. and Chang, Yin-Wen and Yang, Yiming and Kumar, Sanjiv},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2020}
}"""

VICREG = """@inproceedings{bardes2022vicreg,
  title = {{VICReg}: Variance-Invariance-Covariance Regularization for Self-Supervised Learning},
  author = {Bardes, Adrien and Ponce, Jean and LeCun, Yann},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year = {2022}
}"""

WORD2VEC = """@inproceedings{mikolov2013distributed,
  title = {Distributed Representations of Words and Phrases and their Compositionality},
  author = {Mikolov, Tomas and Sutskever, Ilya and Chen, Kai and Corrado, Greg and Dean, Jeffrey},
  booktitle = {Advances in Neural Information Processing Systems (NeurIPS)},
  year = {2013}
}"""
