"""Reports for people: the board report (one offline HTML file) and the Excel workbook.

Reports read finished results (and the data set they name) and never reach back upstream.
"""
